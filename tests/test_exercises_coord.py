"""The Coordinate Attention chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref import make_attention
from lightattn_ref.exercises import check_directional_pool, check_mip


def pool_right(x: Tensor) -> tuple[Tensor, Tensor]:
    return x.mean(dim=3, keepdim=True), x.mean(dim=2, keepdim=True)


def pool_adaptive(x: Tensor) -> tuple[Tensor, Tensor]:
    """The official code's poolings: equal up to rounding, so they must pass too."""
    return nn.AdaptiveAvgPool2d((None, 1))(x), nn.AdaptiveAvgPool2d((1, None))(x)


@pytest.mark.parametrize("answer", [pool_right, pool_adaptive], ids=["mean", "adaptive-pool"])
def test_pool_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_directional_pool(answer)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x: (x.mean(2, keepdim=True), x.mean(3, keepdim=True)), "swapped"),
        (lambda x: (x.mean(3, keepdim=True), x.mean(2, keepdim=True).transpose(2, 3)), "transposed shape"),
        (lambda x: (x.mean(2, keepdim=True).transpose(2, 3), x.mean(2, keepdim=True)), "over the height"),
        (lambda x: (x.amax(3, keepdim=True), x.amax(2, keepdim=True)), "took the maximum"),
        (lambda x: (x.mean(3), x.mean(2)), "keepdim=True"),
        (lambda x: (x.mean(1, keepdim=True), x.mean(2, keepdim=True)), "must be"),
        (lambda x: x.mean(3, keepdim=True), "two tensors"),
    ],
    ids=[
        "swapped", "official-transpose", "wrong-axis", "max-not-mean", "no-keepdim", "over-channels", "one-output"
    ],
)
def test_pool_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_directional_pool(wrong)


def test_pool_rejects_wrong_axis_on_a_square_input() -> None:
    """A wrong axis that is reshaped to the right shape only shows on the square test input."""

    def wrong(x: Tensor) -> tuple[Tensor, Tensor]:
        if x.shape[2] != x.shape[3]:
            return pool_right(x)
        return x.mean(2, keepdim=True).transpose(2, 3), x.mean(3, keepdim=True).transpose(2, 3)

    with pytest.raises(AssertionError, match="wrong axis"):
        check_directional_pool(wrong)


def test_mip_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    check_mip(lambda c, r: max(8, c // r))
    assert capsys.readouterr().out.startswith("Correct:")
    check_mip(lambda c, r: make_attention("coord", c, reduction=r).mip)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda c, r: c // r, "max\\(8, C // r\\), so narrow layers"),
        (lambda c, r: max(8, c / r), "of type float"),
        (lambda c, r: max(8, round(c / r)), "floor division, then at least 8"),
        (lambda c, r: max(8, c // 32), "floor division"),
    ],
    ids=["forgot-max-8", "float", "rounded", "ignores-r"],
)
def test_mip_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_mip(wrong)
