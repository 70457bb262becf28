"""``check_seed_stats``: the mean and the sample standard deviation of one number over seeds."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence

from .._common import answer_error, call_answer, reader_check


def _seed_cases() -> list[list[float]]:
    """Lists of 2 to 7 accuracies (skewed, so a median differs from the mean)."""
    rng = random.Random(2024)
    cases = [[0.97, 0.95, 0.99], [0.5, 0.52, 0.61, 0.49, 0.9]]
    for length in (4, 6, 7):
        cases.append([round(rng.uniform(0.3, 1.0), 4) for _ in range(length)])
    # two runs last: with n = 2 the population std equals the standard error, so those two mistakes
    # are told apart on the longer lists first
    cases.append([0.9, 0.8])
    return cases


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-7)


@reader_check
def check_seed_stats(fn: Callable[[Sequence[float]], tuple[float, float]]) -> None:
    """Check a reader's ``fn(values) -> (mean, std)``, eq. learn-seed-stats.

    Args:
        fn: takes the numbers of several runs (one per seed) as a list of floats and returns
            their mean and their *sample* standard deviation (Q - 1 in the denominator). For a
            single value there is no estimate of the spread: return ``nan`` as the std, or raise
            ``ValueError``.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: the population std (Q in the denominator), the variance, the
    standard error, swapped outputs, a median, or a std of 0 for one seed.
    """
    cases = _seed_cases()
    for values in cases:
        result = call_answer(fn, list(values))
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise AssertionError("fn(values) must return two numbers, (mean, std).")
        mean, std = float(result[0]), float(result[1])
        want_mean, want_std = statistics.fmean(values), statistics.stdev(values)
        if _close(mean, want_mean) and _close(std, want_std):
            continue
        n = len(values)
        if _close(mean, want_std) and _close(std, want_mean):
            raise AssertionError("Your outputs are swapped: return (mean, std) in that order.")
        if not _close(mean, want_mean):
            if _close(mean, statistics.median(values)):
                raise AssertionError(f"For {values} you returned the median {mean:.4g}; the summary uses the "
                                     f"mean {want_mean:.4g}.")
            raise AssertionError(f"For {values} the mean is {want_mean:.4g}, not {mean:.4g}.")
        if _close(std, statistics.pstdev(values)):
            raise AssertionError(
                f"For {n} seeds you returned the population standard deviation (dividing by Q = {n}); over a "
                f"few runs use the sample standard deviation, dividing by Q - 1 = {n - 1}."
            )
        if _close(std, statistics.variance(values)) or _close(std, statistics.pvariance(values)):
            raise AssertionError("You returned the variance: take its square root to get the standard deviation.")
        if _close(std, want_std / math.sqrt(n)) or _close(std, statistics.pstdev(values) / math.sqrt(n)):
            raise AssertionError(
                "You divided by sqrt(Q): that is the standard error of the mean, not the spread of the runs."
            )
        raise AssertionError(f"For {values} the sample standard deviation is {want_std:.4g}, not {std:.4g}.")
    try:
        single = fn([0.93])
    except ValueError:
        pass
    except Exception as error:  # noqa: BLE001 - any other failure of the reader's code is reported
        raise answer_error(error) from None
    else:
        if not (isinstance(single, (tuple, list)) and len(single) == 2):
            raise AssertionError("fn(values) must return two numbers, (mean, std).")
        if not _close(float(single[0]), 0.93):
            raise AssertionError(f"For one value 0.93 the mean is 0.93, not {float(single[0]):.4g}.")
        if not math.isnan(float(single[1])):
            raise AssertionError(
                f"For one seed you returned std {float(single[1]):.4g}: one run says nothing about the spread, "
                f"so return nan (or raise ValueError)."
            )
    print(f"Correct: mean and sample standard deviation for {len(cases)} lists of runs, and no spread from one run.")
