"""``check_bottleneck_params``: the parameters of a ResNet bottleneck block and what SE adds to it."""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable

import torch

from ...cost import count_parameters
from ...models import Bottleneck
from ...registry import make_attention
from .._common import call_answer, reader_check


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
