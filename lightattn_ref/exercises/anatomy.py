"""Exercise checks for the anatomy chapter (notebooks/01_anatomy.ipynb).

Every module in the book squeezes x (pools it over some axes), excites (a small function of the
pooled values, squashed to a gate) and scales (multiplies x by the gate, broadcasting it back over
the pooled axes). The checks here test the scale step, the reader's map of the squeeze axes, and
the reader's prediction of what SE adds to a ResNet bottleneck block.
"""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable, Iterable, Mapping

import torch
from torch import Tensor

from ..cost import count_parameters
from ..models import Bottleneck
from ..registry import make_attention
from ._common import answer_error, as_tensor, call_answer, reader_check

__all__: list[str] = ["POOLED_AXES", "check_bottleneck_params", "check_pool_axes", "check_scale"]

# (N, C, H, W) shapes for check_scale. The first is the trap: with N = 1 and C == W, ``x * a`` for a
# gate a of shape (N, C) runs without an error and scales the width axis instead of the channels.
_SCALE_SHAPES: tuple[tuple[int, int, int, int], ...] = ((1, 6, 6, 6), (2, 3, 5, 4), (3, 8, 2, 7), (1, 4, 3, 1))

#: The axes of x each gate's squeeze pools over (the gate is constant along them).
POOLED_AXES: dict[str, frozenset[str]] = {
    "se": frozenset("HW"),
    "eca": frozenset("HW"),
    "cbam_channel": frozenset("HW"),
    "cbam_spatial": frozenset("C"),
    "sa_channel": frozenset("HW"),
    "sa_spatial": frozenset(),
    "ulsam": frozenset("C"),
    "coord_height": frozenset("W"),
    "coord_width": frozenset("H"),
}

# One sentence per gate, used when an answer for that gate is wrong.
_HINTS: dict[str, str] = {
    "se": "SE's gate has shape (N, C, 1, 1): its squeeze averages each channel over H and W",
    "eca": "ECA keeps SE's squeeze, a global average over H and W, so its gate has shape (N, C, 1, 1)",
    "cbam_channel": "CBAM's channel gate pools (average and maximum) over H and W, so it has shape (N, C, 1, 1)",
    "cbam_spatial": "CBAM's spatial gate takes the maximum and the mean over the channels C, so it has shape "
    "(N, 1, H, W)",
    "sa_channel": "SA's channel half averages each channel over H and W, so its gate has shape (N, C/2, 1, 1)",
    "sa_spatial": "SA's spatial half pools over no axis: GroupNorm's statistics only standardise x, and the gate "
    "keeps every channel and position (shape (N, C/2, H, W)): an empty set",
    "ulsam": "ULSAM's pointwise convolution sums over the channels of each subspace, giving one H x W map per "
    "subspace (shape (N, G, H, W)), so it pools over C",
    "coord_height": "Coordinate Attention's height gate a^h has shape (N, C, H, 1): it averages over W and keeps H",
    "coord_width": "Coordinate Attention's width gate a^w has shape (N, C, 1, W): it averages over H and keeps W",
}


def _is_broadcast_error(error: Exception) -> bool:
    """PyTorch's error for two shapes that do not broadcast (e.g. (N, C) against (N, C, H, W))."""
    return isinstance(error, RuntimeError) and ("must match the size" in str(error) or "broadcast" in str(error))


@reader_check
def check_scale(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's scale step ``fn(x, a) -> y``, eq. anatomy-scale: y = a ⊙ x.

    Args:
        fn: takes x of shape (N, C, H, W) and a channel gate a of shape (N, C) and returns
            y of shape (N, C, H, W) with y[n, c, i, j] = a[n, c] * x[n, c, i, j]. It must not
            modify x or a.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: a gate that lines up with (H, W) instead of (N, C) (an error, or a
    silent scaling of the width axis when N = 1 and C = W), an in-place multiplication, the
    gate returned without the product, or a wrong shape.
    """
    for seed, (n, c, h, w) in enumerate(_SCALE_SHAPES):
        gen = torch.Generator().manual_seed(100 + seed)
        x = torch.randn(n, c, h, w, generator=gen)
        a = torch.sigmoid(torch.randn(n, c, generator=gen))
        x_in, a_in = x.clone(), a.clone()
        shapes = f"x of shape {(n, c, h, w)} and a of shape {(n, c)}"
        try:
            with torch.no_grad():
                y = fn(x_in, a_in)
        except Exception as error:  # noqa: BLE001 - any failure of the reader's code is reported
            if _is_broadcast_error(error):
                raise AssertionError(
                    f"fn failed to broadcast for {shapes}: broadcasting lines up the LAST axes, so a of shape "
                    f"(N, C) meets (H, W); reshape it to (N, C, 1, 1), e.g. a[:, :, None, None]."
                ) from None
            raise answer_error(error, f"fn, for {shapes},") from None
        if not torch.equal(x_in, x) or not torch.equal(a_in, a):
            raise AssertionError(
                "fn changed its input in place (e.g. x.mul_ or x *= ...); return a new tensor so that x "
                "stays available, e.g. for the residual add that follows the module."
            )
        y = as_tensor(y, (n, c, h, w), "fn")
        if tuple(y.shape) != (n, c, h, w):
            raise AssertionError(
                f"fn returned shape {tuple(y.shape)} for {shapes}; the scale step keeps x's shape {(n, c, h, w)}."
            )
        want = x * a[:, :, None, None]
        if torch.allclose(y, want, atol=1e-6):
            continue
        if torch.allclose(y, a[:, :, None, None].expand_as(x)):
            raise AssertionError("fn returned the gate broadcast to x's shape; multiply it by x: y = a ⊙ x.")
        if n == 1 and c == w and torch.allclose(y, x * a[:, None, None, :], atol=1e-6):
            raise AssertionError(
                f"For {shapes} your result scales the width axis W, not the channels: a of shape (N, C) lines "
                f"up with the last two axes (H, W), so reshape it to (N, C, 1, 1) first."
            )
        if n == 1 and c == h and torch.allclose(y, x * a[:, None, :, None], atol=1e-6):
            raise AssertionError(
                f"For {shapes} your result scales the height axis H, not the channels; give a the shape "
                f"(N, C, 1, 1) so it broadcasts over H and W."
            )
        raise AssertionError(f"fn(x, a) differs from a[:, :, None, None] * x for {shapes}.")
    print(f"Correct: fn(x, a) scales every channel by its gate for {len(_SCALE_SHAPES)} shapes, "
          f"including the square one where x * a fails silently.")


def _as_axes(value: object, key: str) -> frozenset[str]:
    """An answer's axes as a set of upper-case letters; accepts a set/list/tuple of letters or a string."""
    if isinstance(value, str):
        items: Iterable[object] = [ch for ch in value if ch not in " ,"]
    elif isinstance(value, (set, frozenset, list, tuple)):
        items = value
    else:
        raise AssertionError(
            f"answer[{key!r}] must be a set of axis letters such as {{'H', 'W'}}; got {type(value).__name__}."
        )
    axes = set()
    for item in items:
        if not isinstance(item, str) or item.strip().upper() not in ("N", "C", "H", "W"):
            raise AssertionError(f"answer[{key!r}] contains {item!r}; use the axis letters 'C', 'H' and 'W'.")
        axes.add(item.strip().upper())
    return frozenset(axes)


@reader_check
def check_pool_axes(fn: Callable[[], Mapping[str, object]]) -> None:
    """Check a reader's map from each gate to the axes of x its squeeze pools over.

    Args:
        fn: takes no argument and returns the answer, a dict with the keys of ``POOLED_AXES`` ("se", "eca", "cbam_channel",
            "cbam_spatial", "sa_channel", "sa_spatial", "ulsam", "coord_height", "coord_width");
            each value is a set of axis letters from "C", "H", "W" (a list, a tuple or a string such
            as "HW" is accepted too; an empty set means the gate pools over no axis).

    Prints one line when every entry is right. Raises ``AssertionError`` with one sentence for
    the first wrong entry, saying what the gate's shape is and why.
    """
    answer = call_answer(fn)
    if not isinstance(answer, Mapping):
        raise AssertionError(f"answer must be a dict from gate name to a set of axes; got {type(answer).__name__}.")
    missing = [key for key in POOLED_AXES if key not in answer]
    if missing:
        raise AssertionError(f"answer has no entry for {', '.join(map(repr, missing))}; give one set of axes per gate.")
    unknown = [key for key in answer if key not in POOLED_AXES]
    if unknown:
        raise AssertionError(
            f"answer has unknown keys {', '.join(map(repr, unknown))}; the keys are {', '.join(POOLED_AXES)}."
        )
    for key, want in POOLED_AXES.items():
        got = _as_axes(answer[key], key)
        if "N" in got:
            raise AssertionError(
                f"answer[{key!r}] contains the batch axis N, but no module pools over it: every sample gets its own gate."
            )
        if got != want:
            raise AssertionError(f"answer[{key!r}] is wrong: {_HINTS[key]}.")
    print(f"Correct: you found the pooled axes of all {len(POOLED_AXES)} gates.")


# --------------------------------------------------------------------------------------------
# Exercise 3: SE placed in a bottleneck block
# --------------------------------------------------------------------------------------------

# (C, r) cases for check_bottleneck_params; r = None: fn is called with C only (the default r = 16).
# The ResNet-50 widths come first, so a slip in the block is named before a rounding slip in C // r.
_BOTTLENECK_CASES: tuple[tuple[int, int | None], ...] = (
    (256, None), (512, None), (1024, None), (2048, None),
    (64, 4), (96, 8), (384, 32), (128, 1), (1280, 16),
    (160, 12), (200, 7), (100, 16), (300, 32),
)


def _bottleneck_cases() -> list[tuple[int, int | None]]:
    """The fixed cases and four random ones (C divisible by 4, r from 2 to 32)."""
    rng = random.Random(2016)
    extra = [(4 * rng.randrange(16, 513), rng.randrange(2, 33)) for _ in range(4)]
    return list(_BOTTLENECK_CASES) + extra


@functools.lru_cache(maxsize=None)
def _bottleneck_reference(channels: int, reduction: int) -> tuple[int, int]:
    """The package's answer: trainable parameters of ``Bottleneck(C, C // 4)`` and what SE adds to it."""
    with torch.device("meta"):  # shapes only: no memory for the weights, so C = 2048 costs nothing
        plain = count_parameters(Bottleneck(channels, channels // 4))
        gated = count_parameters(
            Bottleneck(channels, channels // 4, attention=make_attention("se", channels, reduction=reduction))
        )
    return plain, gated - plain


def _se_count(c: float, h: float) -> float:
    """SE's parameters for width c and hidden width h: 2 c h weights, h + c biases."""
    return 2 * c * h + h + c


def _block_slips(c: int) -> list[tuple[int, str]]:
    """Block counts that typical slips give for C channels, each with the sentence that names it."""
    w = c // 4
    convs, bns = 2 * c * w + 9 * w * w, 2 * (w + w + c)
    return [
        (convs, "your block count has no BatchNorm parameters: bn1, bn2 and bn3 each have a weight and a bias "
                "per channel (2 C/4 + 2 C/4 + 2 C in all)."),
        (convs + 2 * bns, "your block count includes BatchNorm's running mean and variance: they are buffers, not "
                          "trainable parameters, so each BatchNorm adds 2 per channel, not 4."),
        (2 * c * w + w * w + bns, "your block count treats the 3x3 convolution like a 1x1: it has 9 weights for "
                                  "each pair of input and output channels, 9 (C/4)^2 in all."),
        (convs + bns + 2 * w + c, "your block count gives the convolutions biases: in ResNet they have none, "
                                  "since a BatchNorm follows each one."),
        (11 * c * c + 6 * c, "your block count uses C as the inner width: the bottleneck reduces C to C/4 with "
                             "its first 1x1 convolution, works at C/4, and expands back to C."),
        (convs + bns + c * c + 2 * c, "your block count includes a projection shortcut: with C channels in and out "
                                      "and stride 1 the shortcut is the identity, with no parameters."),
    ]


def _added_slips(c: int, r: int, block: int) -> list[tuple[int, str]]:
    """SE counts that typical slips give for (C, r), each with the sentence that names it."""
    h, w = c // r, c // 4
    floor_note = (
        f"for C={c}, r={r} SE's hidden layer has C // r = {h} units (a whole number, rounded down), not "
        f"C / r = {c / r:g} or its rounding."
    )
    slips: list[tuple[int, str]] = [
        (block + _se_count(c, h), "your second number is the block with SE; return what SE adds to it, on its own."),
        (_se_count(w, w // r), "your SE has C/4 channels: it sits after bn3, where the block's output has C "
                               "channels, so its MLP is C -> C // r -> C."),
        (2 * c * h, "your SE count has no biases: the package's SE (like the official code) keeps both, C // r "
                    "in the first layer and C in the second."),
        (2 * c * h + c, "your SE count has only the second layer's bias: the first layer has C // r biases too."),
        (2 * c * h + h, "your SE count has only the first layer's bias: the second layer has C biases too."),
        (c * h + h + c, "your SE count has one weight matrix: the MLP C -> C // r -> C has two, C x C // r each."),
        (_se_count(c, c // 16), f"your SE count for r={r} is the one for r=16: use the reduction argument."),
    ]
    real = c / r
    for hidden in (round(real), math.ceil(real), math.floor(real + 0.5)):
        slips.append((int(_se_count(c, hidden)), floor_note))
    slips += [(round(_se_count(c, real)), floor_note), (math.floor(_se_count(c, real)), floor_note)]
    return slips


def _describe_call(channels: int, reduction: int | None) -> str:
    return f"fn({channels})" if reduction is None else f"fn({channels}, {reduction})"


@reader_check
def check_bottleneck_params(fn: Callable[..., tuple[int, int]]) -> None:
    """Check a reader's ``fn(channels, reduction=16) -> (block, added)``: SE placed in a bottleneck block.

    Args:
        fn: for a ResNet bottleneck block with C = ``channels`` input and output channels (inner
            width C // 4, identity shortcut, the package's ``models.Bottleneck(C, C // 4)``) returns
            a pair of ints: ``block``, its trainable parameters, and ``added``, the parameters that
            SE with reduction r adds when it is placed after bn3 (``attention=make_attention("se", C,
            reduction=r)``). Called as ``fn(C)`` for the default r = 16 and as ``fn(C, r)`` otherwise.

    Compares both numbers with ``count_parameters`` of the package's blocks on 17 pairs (C, r).
    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the slip: a result that is not a pair of ints; in the block, forgotten BatchNorm
    parameters, counted running statistics, a 3x3 convolution counted like a 1x1, convolution
    biases, the inner width C instead of C/4, a projection shortcut; in SE, the inner width C/4
    instead of C, missing biases, one weight matrix, C / r instead of C // r, r fixed at 16, or
    the total returned instead of what SE adds.
    """
    cases = _bottleneck_cases()
    for channels, reduction in cases:
        r = 16 if reduction is None else reduction
        call = _describe_call(channels, reduction)
        got = call_answer(fn, channels) if reduction is None else call_answer(fn, channels, reduction)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(
                f"{call} returned {type(got).__name__} {got!r}; return a pair (block, added) of two ints."
            )
        for value in got:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise AssertionError(
                    f"{call} returned {got!r}; return two ints (parameters are counted, and the layers have "
                    f"whole widths: use C // 4 and C // r, not C / 4 and C / r)."
                )
        block, added = (int(value) for value in got)
        want_block, want_added = _bottleneck_reference(channels, r)
        if block != want_block:
            for value, message in _block_slips(channels):
                if block == value:
                    raise AssertionError(message)
            raise AssertionError(
                f"{call} gives the block {block:,} parameters, but Bottleneck({channels}, {channels // 4}) has "
                f"{want_block:,}: count three convolutions (1x1, 3x3, 1x1) and three BatchNorms."
            )
        if added != want_added:
            for value, message in _added_slips(channels, r, want_block):
                if added == value:
                    raise AssertionError(message)
            raise AssertionError(
                f"{call} says SE adds {added:,} parameters, but the package's SE with C={channels}, r={r} "
                f"adds {want_added:,}."
            )
    print(f"Correct: both counts match the package's bottleneck block, with and without SE, for {len(cases)} "
          f"pairs (C, r).")
