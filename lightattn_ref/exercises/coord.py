"""Exercise checks for the Coordinate Attention chapter (notebooks/06_coordinate_attention.ipynb).

The pooling check uses non-square inputs first (a wrong axis then shows up as a wrong shape) and a
square one last (a wrong axis with the right shape then shows up in the values). The ResNet check
compares a reader's count of the parameters CA adds to ResNet-18 and ResNet-50 with the package's
networks (their CA modules, counted with ``count_parameters``).
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from ..cost import count_parameters
from ..models import attention_modules, resnet18, resnet50
from ..registry import make_attention
from ._common import call_answer, reader_check

__all__: list[str] = ["check_ca_resnet_params", "check_directional_pool", "check_mip"]

_POOL_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 3, 6, 10), (1, 5, 11, 4), (3, 2, 7, 7))
_MIP_CHANNELS: tuple[int, ...] = (1, 3, 8, 16, 24, 32, 64, 96, 100, 144, 192, 255, 256, 257, 280, 384, 512,
                                  576, 960, 1000, 1024, 1280, 2048, 4096)
_MIP_REDUCTIONS: tuple[int, ...] = (32, 16, 8)


def reference_mip(channels: int, reduction: int = 32) -> int:
    """Eq. ca-mip: the width of CA's shared transform, max(8, C // r)."""
    return max(8, channels // reduction)


@reader_check
def check_directional_pool(fn: Callable[[Tensor], tuple[Tensor, Tensor]]) -> None:
    """Check a reader's ``fn(x) -> (s_h, s_w)``: Coordinate Attention's two poolings, eq. ca-pool.

    Args:
        fn: takes x of shape (N, C, H, W) and returns s_h, the mean over the width W, of shape
            (N, C, H, 1) (one value per row), and s_w, the mean over the height H, of shape
            (N, C, 1, W) (one value per column).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: swapped outputs (or pooling over the wrong axis), the
    transposed (N, C, W, 1) strip the official code concatenates, max instead of mean, or a
    missing ``keepdim``.
    """
    for seed, (n, c, h, w) in enumerate(_POOL_SHAPES):
        gen = torch.Generator().manual_seed(300 + seed)
        x = torch.randn(n, c, h, w, generator=gen)
        result = call_answer(fn, x.clone())
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise AssertionError("fn(x) must return two tensors, (s_h, s_w).")
        s_h, s_w = result
        if not (isinstance(s_h, Tensor) and isinstance(s_w, Tensor)):
            raise AssertionError("fn(x) must return two torch.Tensors, (s_h, s_w).")
        want_h, want_w = (n, c, h, 1), (n, c, 1, w)
        if tuple(s_h.shape) == want_w and tuple(s_w.shape) == want_h:
            raise AssertionError(
                f"Your outputs are swapped (or pooled over the wrong axes): for x of shape {(n, c, h, w)} "
                f"s_h must average over the width and keep one value per row, shape {want_h}, and s_w "
                f"must average over the height, shape {want_w}."
            )
        for name, z, want, axis in (("s_h", s_h, want_h, 3), ("s_w", s_w, want_w, 2)):
            if tuple(z.shape) == want:
                continue
            if tuple(z.shape) == (n, c, w, 1) and name == "s_w":
                raise AssertionError(
                    f"s_w has the transposed shape {(n, c, w, 1)} that the official code concatenates; "
                    f"return it as {want} (one value per column)."
                )
            if tuple(z.shape) == (n, c, w, 1) and name == "s_h":
                raise AssertionError(
                    f"s_h has shape {(n, c, w, 1)}: it averaged over the height; s_h must average over "
                    f"the width (dim 3) and keep one value per row, shape {want}."
                )
            if tuple(z.shape) == want[:axis] + want[axis + 1:]:
                raise AssertionError(
                    f"{name} has shape {tuple(z.shape)}: keep the pooled axis with keepdim=True so that "
                    f"it has shape {want}."
                )
            raise AssertionError(
                f"{name} has shape {tuple(z.shape)} for x of shape {(n, c, h, w)}; it must be {want}."
            )
        mean_h, mean_w = x.mean(dim=3, keepdim=True), x.mean(dim=2, keepdim=True)
        if torch.allclose(s_h, mean_h, atol=1e-6) and torch.allclose(s_w, mean_w, atol=1e-6):
            continue
        max_h, max_w = x.amax(dim=3, keepdim=True), x.amax(dim=2, keepdim=True)
        if torch.allclose(s_h, max_h) or torch.allclose(s_w, max_w):
            raise AssertionError(
                "You took the maximum: Coordinate Attention averages along each axis (mean over W for "
                "s_h, mean over H for s_w)."
            )
        if torch.allclose(s_h, mean_w.transpose(2, 3), atol=1e-6) or torch.allclose(
            s_w, mean_h.transpose(2, 3), atol=1e-6
        ):
            raise AssertionError(
                "On a square input your s_h holds column means (or s_w row means): you pooled over the "
                "wrong axis and transposed it; s_h = mean over W (dim 3), s_w = mean over H (dim 2)."
            )
        raise AssertionError(
            f"For x of shape {(n, c, h, w)} your s_h or s_w differs from the means over W and over H "
            f"(max differences {float((s_h - mean_h).abs().max()):.3g} and "
            f"{float((s_w - mean_w).abs().max()):.3g})."
        )
    print(
        f"Correct: s_h and s_w are the means over W and over H for {len(_POOL_SHAPES)} shapes, square and not."
    )


@reader_check
def check_mip(fn: Callable[[int, int], int]) -> None:
    """Check a reader's ``fn(channels, reduction) -> mip``: the width of CA's shared transform.

    Args:
        fn: called as ``fn(C, r)`` with positional arguments; must return the int
            mip = max(8, C // r) (eq. ca-mip).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: a forgotten max(8, ...), a float result, rounding instead of
    floor division.
    """
    count = 0
    for r in _MIP_REDUCTIONS:
        for c in _MIP_CHANNELS:
            got = call_answer(fn, c, r)
            want = reference_mip(c, r)
            count += 1
            if isinstance(got, bool) or not isinstance(got, int):
                raise AssertionError(
                    f"fn({c}, {r}) returned {got!r} of type {type(got).__name__}: mip is a number of "
                    f"channels, an int (use floor division C // r)."
                )
            if got == want:
                continue
            if got == c // r:
                raise AssertionError(
                    f"mip for C={c}, r={r} is {got} but must be {want}: the rule is max(8, C // r), so "
                    f"narrow layers keep at least 8 hidden channels."
                )
            raise AssertionError(
                f"mip for C={c}, r={r} is {got} but must be max(8, C // r) = {want} (floor division, "
                f"then at least 8)."
            )
    print(f"Correct: mip = max(8, C // r) for {count} pairs of C and r.")


# (depth, r) for the ResNet check: the default r on both networks first, then other ratios, so
# that a forgotten max(8, ...) (r = 64, 128) and an ignored r both show.
_RESNET_CASES: tuple[tuple[int, int], ...] = ((18, 32), (50, 32), (18, 64), (50, 16), (50, 128), (18, 8))


@functools.lru_cache(maxsize=None)
def resnet_ca_widths(depth: int) -> tuple[int, ...]:
    """The width C of each CA module the package's ResNet-``depth`` (18 or 50) holds, block by block."""
    network = {18: resnet18, 50: resnet50}[depth](attention="coord")
    return tuple(int(module.channels) for module in attention_modules(network).values())


@functools.lru_cache(maxsize=None)
def _plain_resnet_params(depth: int) -> int:
    return count_parameters({18: resnet18, 50: resnet50}[depth]())


@functools.lru_cache(maxsize=None)
def _ca_params(channels: int, reduction: int) -> int:
    return count_parameters(make_attention("coord", channels, reduction=reduction))


def reference_ca_resnet_params(depth: int, reduction: int) -> int:
    """Parameters the CA modules add to the package's ResNet-``depth`` with reduction r."""
    return sum(_ca_params(c, reduction) for c in resnet_ca_widths(depth))


def _ca_formula(c: int, m: int, *, bn: bool = True, biases: bool = True) -> int:
    """Eq. ca-params for width C and mip m, or a slip that leaves out BatchNorm's 2m or the biases."""
    return 3 * c * m + (2 * m if bn else 0) + ((m + 2 * c) if biases else 0)


def _resnet_mistakes(depth: int, r: int) -> list[tuple[int, str]]:
    """Values typical wrong answers give for (depth, r), each with the sentence that names the slip."""
    widths = resnet_ca_widths(depth)
    right = reference_ca_resnet_params(depth, r)
    mistakes: list[tuple[int, str]] = [
        (
            right + _plain_resnet_params(depth),
            f"{right + _plain_resnet_params(depth):,} is the whole ResNet-{depth} with CA: return only the "
            f"parameters the CA modules add ({right:,} for r={r}).",
        ),
    ]
    if depth == 50:
        inner = sum(_ca_formula(c // 4, max(8, c // 4 // r)) for c in widths)
        mistakes.append((
            inner,
            "You used the bottleneck's inner width: CA sits after the block's last BatchNorm, where "
            "ResNet-50 has 4 times the inner width (256, 512, 1024, 2048 channels).",
        ))
    mistakes += [
        (
            sum(_ca_formula(c, c // r) for c in widths),
            f"You used mip = C // r: the rule is max(8, C // r) (eq. ca-mip), and with r={r} some of "
            f"ResNet-{depth}'s blocks are narrow enough for the floor of 8 to win.",
        ),
        (
            sum(_ca_formula(c, max(8, c // 32)) for c in widths),
            f"Your count is the one for r=32, but r={r}: mip = max(8, C // r) depends on the reduction.",
        ),
        (
            sum(_ca_formula(c, max(8, c // r), bn=False) for c in widths),
            "Your count leaves out BatchNorm's weight and bias (2 mip per module): eq. ca-params "
            "counts them, 3 C mip + 3 mip + 2C.",
        ),
        (
            sum(_ca_formula(c, max(8, c // r), biases=False) for c in widths),
            "Your count leaves out the biases of the three 1x1 convolutions (mip + 2C per module): "
            "the package builds them with biases, as the official code does.",
        ),
        (
            sum(_ca_formula(c, max(8, c // r)) for c in sorted(set(widths))),
            f"You counted one CA module per stage: ResNet-{depth} has one in every residual block, "
            f"{len(widths)} in all.",
        ),
    ]
    return mistakes


@reader_check
def check_ca_resnet_params(fn: Callable[[int, int], int]) -> None:
    """Check a reader's ``fn(depth, reduction) -> int``: the parameters CA adds to ResNet-18 or ResNet-50.

    Args:
        fn: called as ``fn(depth, r)`` with depth 18 or 50; must return, as an int, the number
            of parameters of the CA modules in the package's ``resnet18(attention="coord",
            reduction=r)`` or ``resnet50(...)``: one module per residual block at the block's
            output width C, each with 3 C mip + 3 mip + 2C parameters, mip = max(8, C // r)
            (eqs. ca-mip and ca-params).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: the whole network's count, the bottleneck's inner width,
    a forgotten max(8, ...), an ignored r, a count without BatchNorm's parameters or without
    the biases, or one module per stage.
    """
    for depth, r in _RESNET_CASES:
        got = call_answer(fn, depth, r)
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise AssertionError(
                f"fn({depth}, {r}) returned {got!r} of type {type(got).__name__}: a number of parameters "
                f"is an int (mip uses floor division, C // r)."
            )
        want = reference_ca_resnet_params(depth, r)
        if int(got) == want:
            continue
        for value, message in _resnet_mistakes(depth, r):
            if int(got) == value:
                raise AssertionError(message)
        raise AssertionError(
            f"For ResNet-{depth} with r={r} you count {int(got):,} parameters, but its "
            f"{len(resnet_ca_widths(depth))} CA modules have {want:,}."
        )
    print(
        f"Correct: your counts match the CA modules of the package's ResNet-18 and ResNet-50 "
        f"for {len(_RESNET_CASES)} (depth, r) cases."
    )
