"""The Coordinate Attention chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref import make_attention
from lightattn_ref.cost import count_parameters
from lightattn_ref.exercises import check_ca_resnet_params, check_directional_pool, check_mip
from lightattn_ref.exercises.coord import _RESNET_CASES, reference_ca_resnet_params
from lightattn_ref.models import resnet18, resnet50


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


# --- Exercise 3: the parameters CA adds to a ResNet -------------------------------------------

# ResNet-18: 2 basic blocks per stage at widths 64 ... 512; ResNet-50: 3, 4, 6, 3 bottlenecks
# whose output is 4 times their inner width 64 ... 512
_STAGES = {18: ((2, 2, 2, 2), 1), 50: ((3, 4, 6, 3), 4)}


def _count(depth: int, r: int, *, inner: bool = False, mip=None, formula=None, per_stage: bool = False) -> int:
    blocks, expansion = _STAGES[depth]
    total = 0
    for n, planes in zip(blocks, (64, 128, 256, 512)):
        c = planes if inner else planes * expansion
        m = max(8, c // r) if mip is None else mip(c, r)
        total += (1 if per_stage else n) * (formula or (lambda c, m: 3 * c * m + 3 * m + 2 * c))(c, m)
    return total


def resnet_right(depth: int, reduction: int) -> int:
    return _count(depth, reduction)


def test_resnet_accepts_the_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    check_ca_resnet_params(resnet_right)
    assert capsys.readouterr().out.startswith("Correct:")


def test_resnet_reference_is_the_package_networks_difference() -> None:
    """The check's reference equals what CA adds to the package's whole networks, for every case."""
    for depth, r in _RESNET_CASES:
        build = {18: resnet18, 50: resnet50}[depth]
        added = count_parameters(build(attention="coord", reduction=r)) - count_parameters(build())
        assert reference_ca_resnet_params(depth, r) == added == resnet_right(depth, r)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda d, r: resnet_right(d, r) + count_parameters({18: resnet18, 50: resnet50}[d]()), "whole ResNet-18"),
        (lambda d, r: _count(d, r, inner=True), "inner width"),
        (lambda d, r: _count(d, r, mip=lambda c, r: c // r), "mip = C // r"),
        (lambda d, r: _count(d, 32), "the one for r=32"),
        (lambda d, r: _count(d, r, formula=lambda c, m: 3 * c * m + m + 2 * c), "BatchNorm's weight and bias"),
        (lambda d, r: _count(d, r, formula=lambda c, m: 3 * c * m + 2 * m), "biases of the three 1x1"),
        (lambda d, r: _count(d, r, per_stage=True), "one CA module per stage"),
        (lambda d, r: _count(d, r) + 1, "you count 74,737 parameters, but its 8 CA modules have 74,736"),
        (lambda d, r: float(_count(d, r)), "of type float"),
        (lambda d, r: True, "of type bool"),
    ],
    ids=[
        "whole-network", "inner-width", "no-floor-8", "ignores-r", "no-bn", "no-biases", "per-stage", "off-by-one",
        "float", "bool",
    ],
)
def test_resnet_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_ca_resnet_params(wrong)

