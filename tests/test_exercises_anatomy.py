"""The anatomy chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lightattn_ref import make_attention
from lightattn_ref.cost import count_parameters
from lightattn_ref.exercises import POOLED_AXES, check_bottleneck_params, check_pool_axes, check_scale
from lightattn_ref.models import Bottleneck


def scale_right(x: Tensor, a: Tensor) -> Tensor:
    return x * a[:, :, None, None]


def scale_view(x: Tensor, a: Tensor) -> Tensor:
    return a.view(*a.shape, 1, 1).expand_as(x) * x


@pytest.mark.parametrize("answer", [scale_right, scale_view], ids=["index", "view-expand"])
def test_scale_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_scale(answer)
    assert capsys.readouterr().out.startswith("Correct:")


def scale_in_place(x: Tensor, a: Tensor) -> Tensor:
    return x.mul_(a[:, :, None, None])


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x, a: x * a, "scales the width axis W"),
        (lambda x, a: x * a[:, None, :, None], "scales the height axis H"),
        (scale_in_place, "in place"),
        (lambda x, a: a[:, :, None, None].expand_as(x), "gate broadcast"),
        (lambda x, a: (x * a[:, :, None, None]).mean(dim=1), "keeps x's shape"),
        (lambda x, a: x * a[:1, :, None, None], "differs"),
        (lambda x, a: x + a[:, :, None, None], "differs"),
    ],
    ids=["trailing-axes", "height-axis", "in-place", "gate-only", "wrong-shape", "first-sample-gate", "add-not-multiply"],
)
def test_scale_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_scale(wrong)


def test_scale_rejects_broadcast_error_on_non_square_input() -> None:
    """``x * a`` only fails loudly where (N, C) cannot broadcast against (H, W)."""

    def wrong(x: Tensor, a: Tensor) -> Tensor:
        return scale_right(x, a) if x.shape[0] == 1 else x * a

    with pytest.raises(AssertionError, match="broadcasting lines up the LAST axes"):
        check_scale(wrong)


RIGHT_AXES = {
    "se": {"H", "W"},
    "eca": ["H", "W"],
    "cbam_channel": "HW",
    "cbam_spatial": {"C"},
    "sa_channel": ("W", "H"),
    "sa_spatial": set(),
    "ulsam": "c",
    "coord_height": {"W"},
    "coord_width": {"H"},
}


def test_pool_axes_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    check_pool_axes(lambda: RIGHT_AXES)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"coord_height": {"H"}}, r"answer\['coord_height'\] is wrong: .* averages over W and keeps H"),
        ({"cbam_spatial": {"H", "W"}}, r"answer\['cbam_spatial'\] is wrong: .* over the channels C"),
        ({"sa_spatial": {"H", "W"}}, r"answer\['sa_spatial'\] is wrong: .* an empty set"),
        ({"ulsam": set()}, r"answer\['ulsam'\] is wrong: .* pools over C"),
        ({"se": {"N", "H", "W"}}, "batch axis N"),
        ({"eca": {"X"}}, "axis letters"),
        ({"se": 2}, "must be a set"),
        ({"coord": {"H"}}, "unknown keys"),
    ],
    ids=["coord-swapped", "cbam-spatial-as-channel", "sa-spatial-gn-stats", "ulsam-none", "batch-axis",
         "bad-letter", "not-a-set", "unknown-key"],
)
def test_pool_axes_rejects(change: dict, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_pool_axes(lambda: {**RIGHT_AXES, **change})


def test_pool_axes_rejects_missing_entries() -> None:
    answer = {k: v for k, v in RIGHT_AXES.items() if k != "coord_width"}
    with pytest.raises(AssertionError, match="no entry for 'coord_width'"):
        check_pool_axes(lambda: answer)


def test_pooled_axes_agree_with_the_gate_shapes() -> None:
    """The reference answer is what the package's gates show: size 1 along a pooled axis (H, W,
    or C), and fewer channel entries than C only where a subspace shares its map (ULSAM)."""
    n, c, h, w = 2, 128, 6, 5
    x = torch.randn(n, c, h, w)
    maps = {}
    for name in ("se", "eca", "cbam", "sa", "ulsam", "coord"):
        module = make_attention(name, c).eval()
        with torch.no_grad():
            for key, gate in module.attention_maps(x).items():
                maps[name if name in ("se", "eca", "ulsam") else f"{name}_{key}"] = tuple(gate.shape)
    assert set(maps) == set(POOLED_AXES)
    for key, shape in maps.items():
        pooled = {axis for axis, size, full in zip("HW", shape[2:], (h, w)) if size == 1 and full > 1}
        if shape[1] == 1 or (key == "ulsam" and shape[1] < c):
            pooled.add("C")
        assert pooled == set(POOLED_AXES[key]), key


# ---------------------------------------------------------------------- SE in a bottleneck block
def bottleneck_right(channels: int, reduction: int = 16) -> tuple[int, int]:
    w, h = channels // 4, channels // reduction
    block = channels * w + 9 * w * w + w * channels + 2 * (w + w + channels)  # three convs, three BNs
    return block, 2 * channels * h + h + channels


def bottleneck_counted(channels: int, reduction: int = 16) -> tuple[int, int]:
    """Building the blocks and counting gives the same pair (the check compares with this)."""
    plain = count_parameters(Bottleneck(channels, channels // 4))
    gated = Bottleneck(channels, channels // 4, attention=make_attention("se", channels, reduction=reduction))
    return plain, count_parameters(gated) - plain


@pytest.mark.parametrize("answer", [bottleneck_right, bottleneck_counted], ids=["formula", "counted"])
def test_bottleneck_params_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_bottleneck_params(answer)
    assert capsys.readouterr().out.startswith("Correct: both counts match the package's bottleneck block")


def test_bottleneck_reference_is_the_chapter_block() -> None:
    """The chapter's stage-2 block: Bottleneck(512, 128) has 280,064 parameters, SE adds 33,312."""
    assert bottleneck_counted(512) == bottleneck_right(512) == (280_064, 33_312)


def _with_block(block_fn):
    return lambda c, r=16: (block_fn(c), bottleneck_right(c, r)[1])


def _with_added(added_fn):
    return lambda c, r=16: (bottleneck_right(c, r)[0], added_fn(c, r))


def _convs(c: int) -> int:
    w = c // 4
    return 2 * c * w + 9 * w * w


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_with_block(_convs), "no BatchNorm parameters"),
        (_with_block(lambda c: _convs(c) + 4 * (c // 2 + c)), "running mean and variance"),
        (_with_block(lambda c: _convs(c) - 8 * (c // 4) ** 2 + 2 * (c // 2 + c)),
         "treats the 3x3 convolution like a 1x1"),
        (_with_block(lambda c: _convs(c) + 3 * (c // 2 + c)), "gives the convolutions biases"),
        (_with_block(lambda c: 11 * c * c + 6 * c), "uses C as the inner width"),
        (_with_block(lambda c: bottleneck_right(c)[0] + c * c + 2 * c), "projection shortcut"),
        (_with_block(lambda c: 17 * c * c), "has 70,400"),
        (_with_added(lambda c, r: sum(bottleneck_right(c, r))), "the block with SE"),
        (_with_added(lambda c, r: bottleneck_right(c // 4, r)[1]), "your SE has C/4 channels"),
        (_with_added(lambda c, r: 2 * c * (c // r)), "no biases"),
        (_with_added(lambda c, r: 2 * c * (c // r) + c), "only the second layer's bias"),
        (_with_added(lambda c, r: c * (c // r) + c // r + c), "one weight matrix"),
        (_with_added(lambda c, r: bottleneck_right(c)[1]), "for r=4 is the one for r=16"),
        (_with_added(lambda c, r: round(2 * c * c / r + c / r + c)), r"C // r = 13 units .* not C / r = 13.3333"),
        (_with_added(lambda c, r: 2 * c * c / r + c / r + c), "return two ints"),
        (lambda c, r=16: bottleneck_right(c, r)[0], "return a pair"),
        (lambda c: bottleneck_right(c), "takes 1 positional argument"),
        (_with_added(lambda c, r: bottleneck_right(c, r)[1] + 1), "adds 8,465 parameters"),
    ],
    ids=["no-bn", "bn-buffers", "3x3-as-1x1", "conv-biases", "no-reduction", "projection", "other-block",
         "total", "se-on-inner-width", "se-no-bias", "se-one-bias", "se-one-matrix", "fixed-r", "float-rounded",
         "float", "one-number", "no-r-argument", "other-se"],
)
def test_bottleneck_params_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_bottleneck_params(wrong)
