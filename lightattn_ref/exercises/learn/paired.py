"""``check_paired_difference``: two models compared seed by seed: mean, sd and t_stat of the differences."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

from .._common import answer_error, call_answer, reader_check


def _paired_cases() -> list[tuple[list[float], list[float]]]:
    """(a, b) lists of 3 to 7 accuracies, b[q] and a[q] from the same seed q: b = a + an effect +
    a little noise, so the differences scatter far less than either list (as paired runs do),
    and neither list is in sorted order, so pairing by rank instead of by seed shows. Two pairs
    last: with Q = 2 some mistakes coincide, so the longer lists tell them apart first."""
    rng = random.Random(2025)
    cases: list[tuple[list[float], list[float]]] = [
        ([0.9, 0.96, 0.93], [0.94, 0.97, 0.96]),
        ([0.88, 0.95, 0.9, 0.97, 0.92], [0.86, 0.98, 0.89, 0.99, 0.9]),
    ]
    for length in (4, 6, 7):
        a = [round(rng.uniform(0.6, 0.95), 4) for _ in range(length)]
        effect = rng.choice((-1, 1)) * rng.uniform(0.01, 0.05)
        b = [round(v + effect + rng.gauss(0.0, 0.015), 4) for v in a]
        if a == sorted(a):
            a, b = a[::-1], b[::-1]
        cases.append((a, b))
    cases.append(([0.71, 0.8], [0.75, 0.83]))
    return cases


def reference_paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """Mean and sample sd of d_q = b[q] - a[q] over the seeds q, and t_stat = mean / (sd / sqrt(Q))."""
    d = [y - x for x, y in zip(a, b)]
    mean, sd = statistics.fmean(d), statistics.stdev(d)
    return mean, sd, mean / (sd / math.sqrt(len(d)))


def _near(a: float, b: float) -> bool:
    """Equal within float32 rounding of differences of accuracies (an answer in torch float32 passes)."""
    return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-7)


def _three_numbers(result: object) -> tuple[float, float, float]:
    if not (isinstance(result, (tuple, list)) and len(result) == 3):
        raise AssertionError("fn(a, b) must return three numbers, (mean, sd, t_stat).")
    try:
        return float(result[0]), float(result[1]), float(result[2])  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise AssertionError(f"fn(a, b) returned {result!r}: return three numbers, (mean, sd, t_stat).") from None


@reader_check
def check_paired_difference(fn: Callable[[Sequence[float], Sequence[float]], tuple[float, float, float]]) -> None:
    """Check a reader's ``fn(a, b) -> (mean, sd, t_stat)``: a paired comparison of two models over seeds.

    Args:
        fn: takes two lists of the same length Q, ``a[q]`` and ``b[q]`` (models A and B)
            measured in runs with the same seed q, and returns the mean of the differences
            d_q = b[q] - a[q], their sample standard deviation (Q - 1 in the denominator, eq.
            learn-seed-stats), and t_stat = mean / (sd / sqrt(Q)), the mean difference in units
            of its standard error. For Q = 1 it returns ``nan`` for sd and t_stat, or raises
            ``ValueError``.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: a - b instead of b - a, the two lists' spreads combined as if the
    runs were unpaired, pairing by rank (sorted lists) instead of by seed, the population sd,
    t_stat without sqrt(Q) or with sd * sqrt(Q), or a spread of 0 from one seed.
    """
    cases = _paired_cases()
    for a, b in cases:
        mean, sd, t = _three_numbers(call_answer(fn, list(a), list(b)))
        want_mean, want_sd, want_t = reference_paired_difference(a, b)
        if _near(mean, want_mean) and _near(sd, want_sd) and _near(t, want_t):
            continue
        s = len(a)
        sd_a, sd_b = statistics.stdev(a), statistics.stdev(b)
        d = [y - x for x, y in zip(a, b)]
        ranked_sd = statistics.stdev([y - x for x, y in zip(sorted(a), sorted(b))])
        unpaired_sd = (math.hypot(sd_a, sd_b), sd_a + sd_b, math.sqrt((sd_a**2 + sd_b**2) / 2))
        if _near(mean, -want_mean) or (_near(mean, want_mean) and _near(t, -want_t)):
            raise AssertionError(
                "Your difference has the wrong sign: d_q = b[q] - a[q], so a positive mean says b is higher."
            )
        if not _near(mean, want_mean):
            raise AssertionError(f"For a = {a}, b = {b} the mean difference is {want_mean:.4g}, not {mean:.4g}.")
        if not _near(sd, want_sd):
            if _near(sd, ranked_sd):
                raise AssertionError(
                    "You paired the runs by rank (sorted lists): pair them by seed, a[q] with b[q], in the "
                    "order given."
                )
            if any(_near(sd, v) for v in unpaired_sd):
                raise AssertionError(
                    "You combined the two lists' spreads as if the runs were unpaired: take the sample sd of the "
                    "per-seed differences d_q = b[q] - a[q]."
                )
            if _near(sd, statistics.pstdev(d)):
                raise AssertionError(
                    f"You returned the population sd of the differences (dividing by Q = {s}); use the sample "
                    f"sd, dividing by Q - 1 = {s - 1}."
                )
            if _near(sd, statistics.variance(d)) or _near(sd, statistics.pvariance(d)):
                raise AssertionError("You returned the variance of the differences: take its square root.")
            if _near(sd, want_sd / math.sqrt(s)):
                raise AssertionError(
                    "Your sd is the standard error sd / sqrt(Q): return the spread of the differences as sd, and "
                    "divide by sqrt(Q) only inside t_stat."
                )
            raise AssertionError(
                f"For a = {a}, b = {b} the sample sd of the differences is {want_sd:.4g}, not {sd:.4g}."
            )
        if _near(t, want_mean / want_sd):
            raise AssertionError(
                f"Your t_stat divides by sd: divide by the standard error sd / sqrt(Q), here sqrt({s}) times smaller."
            )
        if _near(t, want_mean / (want_sd * math.sqrt(s))):
            raise AssertionError("Your t_stat divides by sd * sqrt(Q): the standard error is sd / sqrt(Q).")
        if _near(t, want_mean / math.sqrt((sd_a**2 + sd_b**2) / s)):
            raise AssertionError(
                "Your t_stat uses the two lists' spreads, as for unpaired runs: divide by the standard error of the "
                "differences, sd(d) / sqrt(Q)."
            )
        if _near(t, want_mean / (statistics.pstdev(d) / math.sqrt(s))):
            raise AssertionError("Your t_stat uses the population sd: use the sample sd, Q - 1 in the denominator.")
        raise AssertionError(f"For a = {a}, b = {b}, t_stat = mean / (sd / sqrt(Q)) is {want_t:.4g}, not {t:.4g}.")
    try:
        single = fn([0.9], [0.95])
    except ValueError:
        pass
    except Exception as error:  # noqa: BLE001 - any other failure of the reader's code is reported
        raise answer_error(error) from None
    else:
        mean, sd, t = _three_numbers(single)
        if not _near(mean, 0.05):
            raise AssertionError(
                f"For one seed, a = [0.9] and b = [0.95], the mean difference is 0.05, not {mean:.4g}."
            )
        if not (math.isnan(sd) and math.isnan(t)):
            raise AssertionError(
                f"For one seed you returned sd {sd:.4g} and t_stat {t:.4g}: one pair says nothing about the spread, "
                f"so return nan for both (or raise ValueError)."
            )
    print(f"Correct: mean, sample sd and t_stat of the per-seed differences for {len(cases)} pairs of lists, "
          f"and no spread from one seed.")
