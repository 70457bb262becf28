"""``check_param_formula``: SE, CBAM and CA parameter counts as formulas in C and r."""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable

from ...cost import count_parameters
from ...registry import make_attention
from .._common import call_answer, reader_check


#: The modules ``check_param_formula`` asks about.
PARAM_FORMULA_NAMES: tuple[str, ...] = ("se", "cbam", "coord")


def _param_cases() -> list[tuple[str, int, int]]:
    """(name, C, r) cases. Divisible widths first (so a missing bias or BatchNorm is named before
    a rounding slip), then widths that C / r does not divide, then small widths for CA's mip rule."""
    rng = random.Random(2018)
    cases: list[tuple[str, int, int]] = []
    for name, r in (("se", 16), ("cbam", 16), ("coord", 32)):
        cases += [(name, c, r) for c in (256, 512, 1024, 2048)]
    for name in PARAM_FORMULA_NAMES:
        r = rng.choice((4, 8, 16, 32))
        cases += [(name, c, r) for c in rng.sample(range(64, 2049, 64), 3)]  # divisible by 64 >= r
    for name in PARAM_FORMULA_NAMES:
        cases += [(name, 100, 16), (name, 200, 32), (name, 150, 8)]  # C / r is not an integer
        cases += [(name, c, r) for c, r in ((rng.randrange(33, 2049), rng.choice((4, 8, 16, 32))) for _ in range(4))]
    cases += [("coord", c, 32) for c in (16, 24, 64, 96, 144, 192)]  # C // 32 < 8: mip = 8
    return cases


@functools.lru_cache(maxsize=None)
def _reference_count(name: str, channels: int, reduction: int) -> int:
    """The package's answer: trainable parameters of ``make_attention(name, C, reduction=r)``."""
    return count_parameters(make_attention(name, channels, reduction=reduction))


def _se(c: float, h: float) -> float:
    return 2 * c * h + h + c


def _cbam(c: float, h: float) -> float:
    return _se(c, h) + 2 * 49 + 2


def _ca(c: float, m: float) -> float:
    return 3 * c * m + 3 * m + 2 * c


def _wrong_variants(name: str, c: int, r: int) -> list[tuple[float, str]]:
    """Values typical wrong formulas give for (name, C, r), each with the sentence that names the slip."""
    h, real = c // r, c / r
    floor_note = (
        f"for C={c}, r={r} the hidden layer has C // r = {h} units: the layer is built with an integer "
        f"width, so use floor division, not C / r = {real:g} (or its rounding)."
    )
    rounded = [math.floor(real + 0.5), math.ceil(real), round(real)]
    if name == "se":
        variants = [
            (2 * c * h, "You forgot the biases: SE's two fully connected layers have C // r and C of them."),
            (2 * c * h + c, "You counted only the second layer's bias: the first layer has C // r biases too."),
            (2 * c * h + h, "You counted only the first layer's bias: the second layer has C biases too."),
            (c * h + h + c, "SE has two weight matrices, C x C // r and C // r x C: count 2 C (C // r) weights."),
        ]
        variants += [(_se(c, real), floor_note)] + [(_se(c, k), floor_note) for k in rounded]
        variants += [(math.floor(_se(c, real)), floor_note), (round(_se(c, real)), floor_note)]
        return variants
    if name == "cbam":
        variants = [
            (_se(c, h), "You forgot the spatial gate: a 7 x 7 conv over 2 maps (98 weights) and a BatchNorm (2)."),
            (_se(c, h) + 98, "You forgot the spatial gate's BatchNorm: its weight and bias add 2 parameters."),
            (_se(c, h) + 99 + 2, "The spatial gate's 7 x 7 conv has no bias (a BatchNorm follows it): 98 weights."),
            (_se(c, h) + 49 + 2, "The 7 x 7 conv reads 2 maps (max and mean over channels), so it has 2 x 49 weights."),
            (2 * c * h + 100, "You forgot the biases of the channel MLP: C // r in the first layer and C in the second."),
            (2 * _se(c, h) + 100, "The channel MLP is shared by the average- and the max-pooled vector: count it once."),
        ]
        variants += [(_cbam(c, real), floor_note)] + [(_cbam(c, k), floor_note) for k in rounded]
        variants += [(math.floor(_cbam(c, real)), floor_note), (round(_cbam(c, real)), floor_note)]
        return variants
    mip = max(8, h)
    mip_note = f"The mip rule is missing: for C={c}, r={r} the hidden width is mip = max(8, C // r) = {mip}, not {h}."
    mip_floor_note = (
        f"For C={c}, r={r} the hidden width is mip = max(8, C // r) = {mip}: use floor division, "
        f"not C / r = {real:g} (or its rounding)."
    )
    variants = [
        (_ca(c, h), mip_note),
        (_ca(c, real), mip_note if real < 8 else mip_floor_note),
        (3 * c * mip + 2 * mip, "You forgot the biases: the shared conv has mip of them and each output conv C."),
        (3 * c * mip + mip + 2 * c, "You forgot the BatchNorm after the shared conv: its weight and bias add 2 mip."),
        (2 * c * mip + 3 * mip + c, "CA has two output convs (for a^h and a^w), each mip -> C with a bias."),
        (4 * c * mip + 4 * mip + 2 * c, "The shared conv is applied once to the joined strips: count its weights once."),
        (4 * c * mip + 6 * mip + 2 * c, "The shared conv is applied once to the joined strips: count its weights once."),
    ]
    real_mip = _ca(c, max(8, real))
    variants += [(real_mip, mip_floor_note), (math.floor(real_mip), mip_floor_note), (round(real_mip), mip_floor_note)]
    for k in rounded:
        m = max(8, k)
        if m != mip:
            variants.append((_ca(c, m), mip_floor_note))
    return variants


@reader_check
def check_param_formula(fn: Callable[[str, int, int], int]) -> None:
    """Check a reader's ``fn(name, channels, reduction) -> int``: parameters of one module.

    Args:
        fn: called as ``fn(name, C, r)`` with ``name`` in ``PARAM_FORMULA_NAMES`` (``"se"``,
            ``"cbam"``, ``"coord"``), C channels and reduction ratio r; must return the exact
            number of trainable parameters of ``make_attention(name, C, reduction=r)`` as an int:
            SE 2 C h + h + C and CBAM 2 C h + h + C + 98 + 2 with h = C // r; Coordinate
            Attention 3 C mip + 3 mip + 2 C with mip = max(8, C // r).

    Prints one line when ``fn`` is right for every case. Raises ``AssertionError`` with one
    sentence when it is not, naming the slip: forgotten biases, a forgotten BatchNorm or
    spatial gate, C / r instead of C // r, CA's mip rule missing, a float result.
    """
    cases = _param_cases()
    for name, c, r in cases:
        want = _reference_count(name, c, r)
        got = call_answer(fn, name, c, r)
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(f"fn({name!r}, {c}, {r}) returned {got!r}: return the parameter count as an int.")
        if got == want and isinstance(got, numbers.Integral):
            continue
        if got == want:
            raise AssertionError(
                f"fn({name!r}, {c}, {r}) returned the float {got!r}: a parameter count is an int; build the "
                f"hidden width with floor division C // r and the count stays an int."
            )
        for value, message in _wrong_variants(name, c, r):
            if math.isclose(got, value, rel_tol=0, abs_tol=1e-6):
                raise AssertionError(message)
        raise AssertionError(
            f"fn({name!r}, {c}, {r}) = {got:,} but make_attention({name!r}, {c}, reduction={r}) has "
            f"{want:,} trainable parameters."
        )
    print(f"Correct: your formulas match count_parameters for {len(cases)} (module, C, r) cases of SE, CBAM and CA.")
