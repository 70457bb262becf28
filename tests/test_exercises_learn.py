"""The learning chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.exercises.learn import check_gate_summary, check_paired_difference, check_seed_stats


# ------------------------------------------------------------------------------ gate summary
def summary_right(module: nn.Module, loader) -> Tensor:
    with torch.no_grad():
        gates = torch.cat([module.attention_maps(x)["channel"] for x, _ in loader])  # (N, C, 1, 1)
    return gates.mean(dim=(0, 2, 3))


def summary_running_sum(module: nn.Module, loader) -> Tensor:
    """Another right answer: a running sum weighted by batch size."""
    total, count = 0.0, 0
    for x, _ in loader:
        total = total + module.attention_maps(x)["channel"].sum(dim=0).flatten()
        count += len(x)
    return total / count


@pytest.mark.parametrize("answer", [summary_right, summary_running_sum], ids=["concatenate", "running-sum"])
def test_gate_summary_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_gate_summary(answer)
    assert capsys.readouterr().out.startswith("Correct: one mean gate per channel")


def wrong_axis(module: nn.Module, loader) -> Tensor:
    return torch.cat([module.attention_maps(x)["channel"] for x, _ in loader]).mean(dim=(1, 2, 3))


def mean_of_batch_means(module: nn.Module, loader) -> Tensor:
    return torch.stack([module.attention_maps(x)["channel"].mean(dim=(0, 2, 3)) for x, _ in loader]).mean(dim=0)


def first_batch(module: nn.Module, loader) -> Tensor:
    x, _ = next(iter(loader))
    return module.attention_maps(x)["channel"].mean(dim=(0, 2, 3))


def last_batch(module: nn.Module, loader) -> Tensor:
    for x, _ in loader:
        out = module.attention_maps(x)["channel"].mean(dim=(0, 2, 3))
    return out


def gated_output(module: nn.Module, loader) -> Tensor:
    return torch.cat([module(x) for x, _ in loader]).mean(dim=(0, 2, 3))


def keeps_dims(module: nn.Module, loader) -> Tensor:
    return summary_right(module, loader)[:, None, None]


def not_a_tensor(module: nn.Module, loader) -> list[float]:
    return summary_right(module, loader).tolist()


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (wrong_axis, "averaged over the channels"),
        (mean_of_batch_means, "per-batch means without weights"),
        (first_batch, "only the first batch"),
        (last_batch, "only the last batch"),
        (gated_output, "output a ⊙ x, not the gate"),
        (keeps_dims, "wrong shape"),
        (not_a_tensor, r"returned a value of type list, not a tensor of shape \(6,\)"),
        (lambda module, loader: summary_right(module, loader) + 0.01, "differ from the average"),
    ],
    ids=["wrong-axis", "batch-means", "first-batch", "last-batch", "gated-output", "keepdim", "list", "off"],
)
def test_gate_summary_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_gate_summary(wrong)


# -------------------------------------------------------------------------------- seed stats
def stats_right(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values)  # stdev raises for one value


def stats_torch(values: list[float]) -> tuple[float, float]:
    """float32 and nan for one value: right too."""
    t = torch.tensor(values)
    if len(values) < 2:
        return t.mean().item(), math.nan
    return t.mean().item(), t.std().item()


def stats_numpy(values: list[float]) -> tuple[float, float]:
    a = np.asarray(values)
    return float(a.mean()), (float(a.std(ddof=1)) if len(a) > 1 else math.nan)


@pytest.mark.parametrize("answer", [stats_right, stats_torch, stats_numpy], ids=["statistics", "torch", "numpy"])
def test_seed_stats_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_seed_stats(answer)
    assert capsys.readouterr().out.startswith("Correct: mean and sample standard deviation")


def population(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))  # numpy's default ddof=0


def zero_for_one(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (population, "population standard deviation"),
        (lambda v: (statistics.fmean(v), statistics.variance(v)), "the variance"),
        (lambda v: (statistics.fmean(v), statistics.stdev(v) / math.sqrt(len(v))), "standard error"),
        (lambda v: (statistics.stdev(v), statistics.fmean(v)), "swapped"),
        (lambda v: (statistics.median(v), statistics.stdev(v)), "median"),
        (zero_for_one, "one run says nothing about the spread"),
        (lambda v: statistics.fmean(v), "two numbers"),
        (lambda v: (statistics.fmean(v), 2 * statistics.stdev(v)), "sample standard deviation is"),
    ],
    ids=["population", "variance", "standard-error", "swapped", "median", "zero-for-one", "one-output", "off"],
)
def test_seed_stats_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_seed_stats(wrong)


# -------------------------------------------------------------------------- paired difference
def paired_right(a: list[float], b: list[float]) -> tuple[float, float, float]:
    d = [y - x for x, y in zip(a, b)]
    mean = statistics.fmean(d)
    if len(d) < 2:
        return mean, math.nan, math.nan
    sd = statistics.stdev(d)
    return mean, sd, mean / (sd / math.sqrt(len(d)))


def paired_torch(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """float32 tensors, and ValueError for one seed: right too."""
    if len(a) < 2:
        raise ValueError("one seed gives no spread")
    d = torch.tensor(b) - torch.tensor(a)
    mean, sd = d.mean(), d.std()
    return mean.item(), sd.item(), (mean / (sd / len(d) ** 0.5)).item()


@pytest.mark.parametrize("answer", [paired_right, paired_torch], ids=["statistics", "torch"])
def test_paired_difference_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_paired_difference(answer)
    assert capsys.readouterr().out.startswith("Correct: mean, sample sd and t_stat of the per-seed differences")


def with_t(mean: float, sd: float, t_sd: float, s: int) -> tuple[float, float, float]:
    return mean, sd, mean / (t_sd / math.sqrt(s))


def unpaired(a: list[float], b: list[float]) -> tuple[float, float, float]:
    sd = math.hypot(statistics.stdev(a), statistics.stdev(b))
    return with_t(statistics.fmean(b) - statistics.fmean(a), sd, sd, len(a))


def population_sd(a: list[float], b: list[float]) -> tuple[float, float, float]:
    d = np.subtract(b, a)
    return with_t(float(d.mean()), float(d.std()), float(d.std()), len(d))


def welch_t(a: list[float], b: list[float]) -> tuple[float, float, float]:
    mean, sd, _ = paired_right(a, b)
    return mean, sd, mean / math.sqrt((statistics.stdev(a) ** 2 + statistics.stdev(b) ** 2) / len(a))


def zero_for_one_seed(a: list[float], b: list[float]) -> tuple[float, float, float]:
    return paired_right(a, b) if len(a) > 1 else (b[0] - a[0], 0.0, math.inf)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda a, b: paired_right(b, a), "wrong sign"),
        (unpaired, "as if the runs were unpaired"),
        (lambda a, b: paired_right(sorted(a), sorted(b)), "paired the runs by rank"),
        (population_sd, "population sd of the differences"),
        (lambda a, b: (paired_right(a, b)[0], paired_right(a, b)[1] ** 2, paired_right(a, b)[2]), "the variance"),
        (lambda a, b: (paired_right(a, b)[0], paired_right(a, b)[1] / math.sqrt(len(a)), paired_right(a, b)[2]),
         "Your sd is the standard error"),
        (lambda a, b: with_t(*paired_right(a, b)[:2], paired_right(a, b)[1] * math.sqrt(len(a)), len(a)),
         "Your t_stat divides by sd:"),
        (lambda a, b: with_t(*paired_right(a, b)[:2], paired_right(a, b)[1] * len(a), len(a)),
         "divides by sd \\* sqrt\\(Q\\)"),
        (welch_t, "Your t_stat uses the two lists' spreads"),
        (zero_for_one_seed, "one pair says nothing about the spread"),
        (lambda a, b: paired_right(a, b)[:2], "three numbers"),
        (lambda a, b: (*paired_right(a, b)[:2], 1.1 * paired_right(a, b)[2]), "t_stat = mean / \\(sd / sqrt\\(Q\\)\\) is"),
    ],
    ids=["a-minus-b", "unpaired-sd", "ranked", "population", "variance", "standard-error", "t-without-sqrt",
         "t-times-sqrt", "welch-t", "zero-for-one", "two-outputs", "off"],
)
def test_paired_difference_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_paired_difference(wrong)
