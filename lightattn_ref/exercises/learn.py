"""Exercise checks for the chapter on what the modules learn (notebooks/08_what_they_learn.ipynb).

- ``check_gate_summary``: the mean channel gate of a module over every image a loader yields,
  one number per channel (eq. learn-mean-gate).
- ``check_seed_stats``: the mean and the sample standard deviation of one number over several
  seeds (eq. learn-seed-stats).
- ``check_paired_difference``: two models compared seed by seed: the mean and the sample
  standard deviation of the per-seed differences, and their ratio t_stat to the standard error.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from ..registry import make_attention
from ._common import answer_error, as_tensor, call_answer, reader_check, reject_known_mistakes

__all__: list[str] = [
    "check_gate_summary",
    "check_paired_difference",
    "check_seed_stats",
    "reference_gate_summary",
    "reference_paired_difference",
]

# (module name, options, C, number of images N, batch size): N is never a multiple of the batch
# size (the last batch is smaller) and C, N and the batch size all differ, so an average over the
# wrong axis or an unweighted mean of batch means cannot pass by accident.
_GATE_CASES: tuple[tuple[str, dict[str, int], int, int, int], ...] = (
    ("cbam_channel", {"reduction": 1}, 6, 50, 16),
    ("se", {"reduction": 2}, 10, 37, 8),
    ("eca", {}, 12, 23, 10),
)


def reference_gate_summary(module: nn.Module, loader: Iterable[tuple[Tensor, Tensor]]) -> Tensor:
    """Eq. learn-mean-gate: the channel gate a_c(x) averaged over all images, shape (C,)."""
    gates = []
    with torch.no_grad():
        for x, _ in loader:
            gates.append(module.attention_maps(x)["channel"].flatten(1))  # (B, C)
    return torch.cat(gates).mean(dim=0)


def _gate_case(seed: int, name: str, options: dict[str, int], c: int, n: int, batch: int) -> tuple[nn.Module, DataLoader]:
    """A module with random weights large enough to spread its gates, and a loader whose batches
    differ in brightness (so batch means differ from each other and from the overall mean)."""
    gen = torch.Generator().manual_seed(seed)
    module = make_attention(name, c, **options).eval()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(2.0 * torch.randn(p.shape, generator=gen))
    scale = torch.linspace(0.2, 3.0, n)[:, None, None, None]  # later images (and the last batch) brighter
    x = scale * torch.rand(n, c, 5, 7, generator=gen) + torch.randn(n, c, 1, 1, generator=gen)
    y = torch.randint(10, (n,), generator=gen)
    return module, DataLoader(TensorDataset(x, y), batch_size=batch)


@reader_check
def check_gate_summary(fn: Callable[[nn.Module, Iterable[tuple[Tensor, Tensor]]], Tensor]) -> None:
    """Check a reader's ``fn(module, loader) -> mean_gate``, eq. learn-mean-gate.

    Args:
        fn: takes a channel-attention module (SE, ECA or CBAM's channel gate, in eval mode) whose
            ``attention_maps(x)["channel"]`` has shape (B, C, 1, 1), and a loader that yields
            (images (B, C, H, W), labels (B,)) batches; returns the gate of each channel averaged
            over all N images, a tensor of shape (C,).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: averaging over the channels instead of the images, an unweighted
    mean of batch means (the last batch is smaller), only the first or last batch, the gated
    output instead of the gate, or a (C, 1, 1) shape.
    """
    for seed, (name, options, c, n, batch) in enumerate(_GATE_CASES):
        module, loader = _gate_case(500 + seed, name, options, c, n, batch)
        want = reference_gate_summary(module, loader)
        got = as_tensor(call_answer(fn, module, loader), (c,)).float()
        batches = [module.attention_maps(x)["channel"].detach().flatten(1) for x, _ in loader]
        if tuple(got.shape) != (c,):
            per_image = torch.cat(batches).mean(dim=1)
            if got.numel() == n and torch.allclose(got.flatten(), per_image, atol=1e-5):
                raise AssertionError(
                    f"You averaged over the channels (dim 1) and got one number per image ({n} images): "
                    f"average over the images (dim 0) to get one number per channel, shape ({c},)."
                )
            if got.numel() == c and torch.allclose(got.flatten(), want, atol=1e-5):
                raise AssertionError(
                    f"Right numbers, wrong shape {tuple(got.shape)}: flatten the (B, C, 1, 1) gates so the "
                    f"result has shape ({c},)."
                )
            raise AssertionError(
                f"For C={c} channels and {n} images fn returned shape {tuple(got.shape)}; it must be ({c},), "
                f"one mean gate per channel."
            )
        if torch.allclose(got, want, atol=1e-5):
            continue
        with torch.no_grad():
            outputs = torch.cat([module(x).mean(dim=(2, 3)) for x, _ in loader]).mean(dim=0)
        mistakes = (
            (torch.stack([b.mean(dim=0) for b in batches]).mean(dim=0),
             f"You averaged the per-batch means without weights: the last batch holds only {n % batch} of "
             f"{n} images, so weight each batch by its size (or concatenate all gates, then average)."),
            (batches[0].mean(dim=0), "You used only the first batch: average the gates of every batch the "
                                     "loader yields."),
            (batches[-1].mean(dim=0), "You kept only the last batch: collect the gates of every batch, then "
                                      "average over all images."),
            (outputs, "You averaged the module's output a ⊙ x, not the gate a: use "
                      "module.attention_maps(x)['channel']."),
        )
        reject_known_mistakes(got, mistakes)
        raise AssertionError(
            f"For {name} with C={c} and {n} images your mean gates differ from the average of "
            f"attention_maps(x)['channel'] over all images by up to {float((got - want).abs().max()):.3g}."
        )
    print(f"Correct: one mean gate per channel over all images, for {len(_GATE_CASES)} modules and "
          f"loaders with a smaller last batch.")


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
