"""The Shuffle Attention chapter's exercise checks accept the right answers and reject wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from lightattn_ref.exercises import check_channel_shuffle, check_sa_spatial_gate, check_shuffle_period
from lightattn_ref.exercises.shuffle import period as period_checks
from lightattn_ref.exercises.shuffle import _period_by_shuffling, _period_cases


def shuffle_right(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def shuffle_right_index(x: Tensor, groups: int) -> Tensor:
    """Indexing with the permutation: also correct."""
    c = x.shape[1]
    return x[:, torch.arange(c).view(groups, c // groups).t().flatten()]


def shuffle_missing_transpose(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).reshape(n, c, h, w)


def shuffle_inverse(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def shuffle_fixed_two(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)


def shuffle_view_after_transpose(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).view(n, c, h, w)


def shuffle_transpose_view_in_place(x: Tensor, groups: int) -> Tensor:
    """A view-only trick: transpose_ changes the strides of a view, not the order of x's memory."""
    n, c, h, w = x.shape
    x.view(n, groups, c // groups, h, w).transpose_(1, 2)
    return x


def shuffle_in_place(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    x.copy_(x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w).clone())
    return x


def shuffle_spatial_axes(x: Tensor, groups: int) -> Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, groups, -1).transpose(1, 2).reshape(n, c, h, w)


def test_channel_shuffle_accepts_right_answers(capsys: pytest.CaptureFixture[str]) -> None:
    check_channel_shuffle(shuffle_right)
    check_channel_shuffle(shuffle_right_index)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (shuffle_missing_transpose, "the transpose of the .* axes is missing"),
        (shuffle_inverse, "the inverse of the one asked"),
        (shuffle_fixed_two, "not groups=3: use the groups argument"),
        (shuffle_view_after_transpose, "use reshape"),
        (shuffle_transpose_view_in_place, "the transpose of the .* axes is missing"),
        (shuffle_in_place, "changed its input x in place"),
        (shuffle_spatial_axes, "not a copy of any input channel"),
    ],
    ids=["missing transpose", "wrong group count", "fixed group count", "view after transpose",
         "transpose_ on a view", "in place", "mixes H and W"],
)
def test_channel_shuffle_rejects(answer: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_channel_shuffle(answer)  # type: ignore[arg-type]


def gate_right(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    var, mean = torch.var_mean(x, dim=(2, 3), keepdim=True, correction=0)
    return torch.sigmoid(weight * (x - mean) / torch.sqrt(var + eps) + bias)


def gate_right_group_norm(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    return torch.sigmoid(weight * F.group_norm(x, x.shape[1], eps=eps) + bias)


def _gate_over(dims: tuple[int, ...], correction: int = 0, eps_inside: bool = True):  # type: ignore[no-untyped-def]
    def gate(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
        var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=correction)
        z = (x - mean) / (torch.sqrt(var + eps) if eps_inside else torch.sqrt(var))
        return torch.sigmoid(weight * z + bias)

    return gate


def gate_no_sigmoid(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    return weight * F.group_norm(x, x.shape[1], eps=eps) + bias


def test_sa_spatial_gate_accepts_right_answers(capsys: pytest.CaptureFixture[str]) -> None:
    check_sa_spatial_gate(gate_right)
    check_sa_spatial_gate(gate_right_group_norm)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_gate_over((1,)), "standardises over the channel axis"),
        (_gate_over((1, 2, 3)), "over all channels and positions together"),
        (_gate_over((0, 2, 3)), r"\(BatchNorm\)"),
        (_gate_over((2,)), "over H only"),
        (_gate_over((2, 3), correction=1), "unbiased variance"),
        (_gate_over((2, 3), eps_inside=False), "not finite for a constant channel"),
        (gate_no_sigmoid, "the sigmoid is missing"),
    ],
    ids=["over channels", "over everything", "over the batch", "over H only", "unbiased variance",
         "no eps", "no sigmoid"],
)
def test_sa_spatial_gate_rejects(answer: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_sa_spatial_gate(answer)  # type: ignore[arg-type]


def period_right(channels: int, groups: int) -> int:
    """The smallest t >= 1 with G^t = 1 modulo C - 1: channel 1 goes to G^t mod (C - 1)."""
    t, position = 1, groups % (channels - 1)
    while position != 1:
        t, position = t + 1, position * groups % (channels - 1)
    return t


def period_right_by_shuffling(channels: int, groups: int) -> int:
    """Shuffling a labelled tensor until it is in order again: also correct."""
    start = torch.arange(channels).view(1, channels, 1, 1)
    current, t = shuffle_right(start, groups), 1
    while not torch.equal(current, start):
        current, t = shuffle_right(current, groups), t + 1
    return t


def period_modulo_c(channels: int, groups: int) -> int:
    """Waits for G^t = 1 modulo C: never true when G > 1 divides C, so the loop never ends."""
    t, power = 1, groups % channels
    while power != 1:
        t, power = t + 1, power * groups % channels
    return t


def period_modulo_c_bounded(channels: int, groups: int) -> int | None:
    for t in range(1, channels + 1):
        if pow(groups, t, channels) == 1:
            return t
    return None


def period_log2(channels: int, groups: int) -> float:
    return math.log2(channels)


def period_one_too_many(channels: int, groups: int) -> int:
    return period_right(channels, groups) + 1


def period_fixed_two(channels: int, groups: int) -> int:
    return period_right(channels, 2)


def period_channel_zero(channels: int, groups: int) -> int:
    """Follows channel 0, which never moves."""
    t, position = 1, 0
    while position != 0:
        t, position = t + 1, position * groups % (channels - 1)
    return t


def period_fermat(channels: int, groups: int) -> int:
    """A multiple of the period (the order of the whole group of units), not the smallest."""
    return math.lcm(*(period_right(channels, g) for g in range(1, channels - 1) if math.gcd(g, channels - 1) == 1))


def period_float(channels: int, groups: int) -> float:
    return float(period_right(channels, groups))


def test_shuffle_period_reference_agrees_with_the_rule() -> None:
    """The check's period (repeated channel_shuffle) is the order of G modulo C - 1, the chapter's rule."""
    for channels, groups in _period_cases():
        assert _period_by_shuffling(channels, groups) == period_right(channels, groups)
    assert _period_by_shuffling(256, 2) == period_right(256, 2)


def test_shuffle_period_accepts_right_answers(capsys: pytest.CaptureFixture[str]) -> None:
    check_shuffle_period(period_right)
    check_shuffle_period(period_right_by_shuffling)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and out.count("Correct:") == 2


def test_shuffle_period_stops_an_endless_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(period_checks, "_PERIOD_TIME_LIMIT_S", 0.3)  # the module that reads it
    with pytest.raises(AssertionError, match=r"did not return within 0.3 s: a loop that waits for G\^T = 1 modulo C"):
        check_shuffle_period(period_modulo_c)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (period_modulo_c_bounded, "returned None: .* work modulo C - 1"),
        (period_log2, "a logarithm of C"),
        (period_one_too_many, "one too many"),
        (period_fixed_two, "the period of shuffles with 2 groups"),
        (period_channel_zero, "channels 0 and C - 1 never move"),
        (period_fermat, "return the smallest such number"),
        (period_float, "return an int"),
    ],
    ids=["modulo C, bounded", "log2 C", "one too many", "fixed 2 groups", "channel 0", "a multiple", "float"],
)
def test_shuffle_period_rejects(answer: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_shuffle_period(answer)  # type: ignore[arg-type]
