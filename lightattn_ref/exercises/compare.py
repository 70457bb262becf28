"""Exercise checks for the comparison chapter (notebooks/07_compare.ipynb).

- ``check_param_formula``: the parameter count of SE, CBAM and Coordinate Attention as a
  function of C and r (eqs. cost-se-params, cost-cbam-params, cost-ca-params), compared with
  ``count_parameters(make_attention(name, C, reduction=r))``.
- ``check_unit_conversion``: a published cost figure (decimal or binary prefix, FLOPs or MACs)
  turned into plain FLOPs (eq. cost-units), compared with ``cost.convert_units``.
- ``check_counted_flops``: the FLOPs ``count_flops`` reports for SE, ECA, CBAM and Coordinate
  Attention at a shape (N, C, H, W), predicted from their layers (eq. cost-flops).
"""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable

from ..attention import eca_kernel_size
from ..cost import convert_units, count_flops, count_parameters
from ..registry import make_attention
from ._common import call_answer, reader_check

__all__: list[str] = [
    "check_counted_flops",
    "check_param_formula",
    "check_unit_conversion",
    "FLOP_NAMES",
    "PARAM_FORMULA_NAMES",
    "UNIT_PREFIXES",
]

#: The modules ``check_param_formula`` asks about.
PARAM_FORMULA_NAMES: tuple[str, ...] = ("se", "cbam", "coord")

#: The prefixes ``check_unit_conversion`` uses, in order of their power (K = first power).
UNIT_PREFIXES: tuple[str, ...] = ("K", "M", "G", "T")


# --------------------------------------------------------------------------------------------
# Exercise 1: parameter formulas
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Exercise 2: units of published figures
# --------------------------------------------------------------------------------------------


def _unit_cases() -> list[tuple[float, str, bool, bool]]:
    """(value, prefix, binary, macs) cases: published figures first, then random ones."""
    cases = [
        (3.86, "G", True, False),  # ECA-Net's ResNet-50 "3.86 GFLOPs" read with a binary prefix
        (4.12, "G", False, True),  # SA-Net's ResNet-50 "4.12 GFLOPs", which are multiply-accumulates
        (300.0, "M", False, True),  # MobileNetV2's "300M" multiply-adds
        (2.76e-3, "G", False, False),
    ]
    rng = random.Random(2020)
    for binary in (False, True):
        for macs in (False, True):
            for prefix in UNIT_PREFIXES:
                cases.append((round(rng.uniform(0.1, 999.0), 2), prefix, binary, macs))
    return cases


def _unit_name(prefix: str, binary: bool, macs: bool) -> str:
    return prefix + ("i" if binary else "") + ("MACs" if macs else "FLOPs")


@reader_check
def check_unit_conversion(fn: Callable[[float, str, bool, bool], float]) -> None:
    """Check a reader's ``fn(value, prefix, binary, macs) -> float``: a published figure in FLOPs.

    Args:
        fn: called as ``fn(value, prefix, binary, macs)``: ``value`` as printed, ``prefix`` one of
            ``"K"``, ``"M"``, ``"G"``, ``"T"``, ``binary`` True when the prefix means a power of
            2^10 (G = 2^30) instead of 10^3 (G = 10^9), ``macs`` True when the figure counts
            multiply-accumulates. Must return the plain number of FLOPs (1 MAC = 2 FLOPs), e.g.
            ``fn(3.86, "G", True, False) == 3.86 * 2**30``.

    Prints one line when ``fn`` agrees with ``convert_units`` on every case. Raises
    ``AssertionError`` with one sentence otherwise, naming the slip: the factor 2 between MACs
    and FLOPs forgotten or applied the wrong way, 2^30 and 10^9 mixed up, the wrong power of a
    prefix, or a non-number.
    """
    cases = _unit_cases()
    for value, prefix, binary, macs in cases:
        want = convert_units(value, _unit_name(prefix, binary, macs), "FLOPs")
        got = call_answer(fn, value, prefix, binary, macs)
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(
                f"fn({value!r}, {prefix!r}, {binary}, {macs}) returned {got!r}: return the FLOPs as a number."
            )
        if math.isclose(got, want, rel_tol=1e-9):
            continue
        call = f"fn({value!r}, {prefix!r}, binary={binary}, macs={macs})"
        power = UNIT_PREFIXES.index(prefix) + 1
        binary_over_decimal = 2.0 ** (10 * power) / 10.0 ** (3 * power)
        ratio = got / want if want else math.inf
        for prefix_factor in (binary_over_decimal, 1 / binary_over_decimal):
            for mac_factor in (1.0, 0.5, 2.0, 0.25, 4.0):
                if math.isclose(ratio, prefix_factor * mac_factor, rel_tol=1e-9):
                    right, wrong = (f"2^{10 * power}", f"10^{3 * power}") if binary else (f"10^{3 * power}", f"2^{10 * power}")
                    raise AssertionError(
                        f"{call} mixes up the prefixes: with binary={binary} {prefix} means {right}, not {wrong}."
                    )
        if macs and math.isclose(ratio, 0.5, rel_tol=1e-9):
            raise AssertionError(f"{call} forgot the factor 2: one MAC is a multiply and an add, 2 FLOPs.")
        if macs and math.isclose(ratio, 0.25, rel_tol=1e-9):
            raise AssertionError(f"{call} divided by 2: MACs become FLOPs by multiplying by 2 (1 MAC = 2 FLOPs).")
        if not macs and math.isclose(ratio, 2.0, rel_tol=1e-9):
            raise AssertionError(f"{call} doubled a figure that already counts FLOPs: only MACs are multiplied by 2.")
        if not macs and math.isclose(ratio, 0.5, rel_tol=1e-9):
            raise AssertionError(f"{call} halved a figure that already counts FLOPs: FLOPs stay FLOPs.")
        for base in (1000.0, 1024.0):
            exponent = math.log(abs(ratio), base) if ratio > 0 else 0.5
            if abs(exponent - round(exponent)) < 1e-9 and round(exponent) != 0:
                raise AssertionError(
                    f"{call} used the wrong power: {prefix} is the prefix number {power} in K, M, G, T, "
                    f"so it means {'2^' + str(10 * power) if binary else '10^' + str(3 * power)}."
                )
        raise AssertionError(f"{call} = {got:.6g} but the figure stands for {want:.6g} FLOPs.")
    print(
        f"Correct: {len(cases)} published figures (decimal and binary prefixes, FLOPs and MACs) "
        f"converted to FLOPs as convert_units does."
    )


# --------------------------------------------------------------------------------------------
# Exercise 3: counted FLOPs from the layers
# --------------------------------------------------------------------------------------------

#: The modules ``check_counted_flops`` asks about.
FLOP_NAMES: tuple[str, ...] = ("se", "eca", "cbam", "coord")


def _flop_cases() -> list[tuple[str, tuple[int, int, int, int]]]:
    """(name, (N, C, H, W)) cases, SE first (so counting MACs or one image is named on the
    simplest module), then ECA, CBAM and CA. H != W and N > 1 in the first cases of each module,
    so H x W versus H + W and a forgotten N show at once; then widths that 16 does not divide,
    and narrow CA layers, where mip = max(8, C // 32) = 8."""
    rng = random.Random(2021)
    cases: list[tuple[str, tuple[int, int, int, int]]] = []
    for name in FLOP_NAMES:
        cases += [(name, (3, 256, 14, 9)), (name, (2, 512, 7, 12))]
        for _ in range(4):
            c = rng.choice((64, 100, 144, 200, 320, 640, 1000, 1024))
            h, w = rng.randrange(2, 17), rng.randrange(2, 17)
            cases.append((name, (rng.randrange(1, 5), c, h, w)))
    cases += [("eca", (2, c, 5, 6)) for c in (16, 48, 2048)]  # k = 3, 3 and 7
    cases += [("coord", (2, c, 6, 11)) for c in (16, 24, 96, 200)]  # C // 32 < 8: mip = 8
    return cases



@functools.lru_cache(maxsize=None)
def _reference_flops(name: str, shape: tuple[int, int, int, int]) -> int:
    """The package's answer: ``count_flops(make_attention(name, C), shape)``, registry defaults."""
    return count_flops(make_attention(name, shape[1]), shape)


def _wrong_flops(name: str, shape: tuple[int, int, int, int]) -> list[tuple[float, str]]:
    """Values typical wrong counts give for (name, shape), each with the sentence that names the slip."""
    n, c, h, w = shape
    hidden, real, k, mip = c // 16, c / 16, eca_kernel_size(c), max(8, c // 32)
    want = _reference_flops(name, shape)
    one_image = (
        f"For shape {shape} you counted one image: every layer runs once per image, so multiply by N = {n}."
    )
    if name == "se":
        return [
            (want / 2, "Your count is half the counter's: it reports FLOPs, 2 per multiply-accumulate "
                       "(eq. cost-flops), for both of SE's layers, C -> C // 16 and C // 16 -> C."),
            (want / n, one_image),
            (want + n * (hidden + c), "The counter does not count the bias additions: only the matrix products."),
            (want * h * w, "SE's linear layers run once per image on the pooled vector, not at every one of the "
                           "H x W positions."),
            (4 * n * c * real, f"For C={c} the hidden layer has C // 16 = {hidden} units (an integer width), "
                               f"not C / 16 = {real:g}."),
        ]
    if name == "eca":
        wrong = [
            (want / 2, "You counted multiply-accumulates: the counter reports FLOPs, 2 per MAC (eq. cost-flops)."),
            (want / n, one_image),
            (want * h * w, "ECA's 1-D convolution runs once per image on the pooled vector, not at every one of "
                           "the H x W positions."),
            (2 * n * c * c, "ECA's convolution has k taps per channel, not a full C x C layer: 2 N C k FLOPs."),
        ]
        wrong += [(2 * n * c * kk, f"For C={c} the kernel has k = psi(C) = {k} taps (eca_kernel_size), not {kk}.")
                  for kk in (3, 5, 7, 9) if kk != k]
        return wrong
    if name == "cbam":
        mlp, conv = 8 * n * c * hidden, 2 * n * h * w * 98
        return [
            (want / 2, "You counted multiply-accumulates: the counter reports FLOPs, 2 per MAC (eq. cost-flops)."),
            (want / n, one_image),
            (mlp, "You forgot the spatial gate: a 7 x 7 conv from 2 maps to 1 at each of the H x W positions."),
            (mlp / 2 + conv, "The shared MLP runs twice, on the average- and on the max-pooled vector: count "
                             "it for both."),
            (mlp + conv / 2, "The spatial conv reads 2 maps (max and mean over channels): 2 x 49 weights at each "
                             "position."),
            (mlp + conv * c, "The spatial conv makes one map from 2 (max and mean over channels), not one per "
                             "channel: it costs 2 x 98 FLOPs per position."),
            (mlp + conv / (h * w), "The 7 x 7 conv runs at every one of the H x W positions, not once per image."),
            (8 * n * c * real + conv, f"For C={c} the hidden layer has C // 16 = {hidden} units (an integer width), "
                                      f"not C / 16 = {real:g}."),
        ]
    quarter = n * c * mip * (h + w)  # one conv C <-> mip over both strips, in MACs
    return [
        (want / 2, "Your CA count is half the counter's: the shared conv (C -> mip) and the two output convs "
                   "(mip -> C) together cost 4 N C mip (H + W) FLOPs; count both parts, 2 FLOPs per MAC."),
        (want / n, one_image),
        (4 * n * c * mip * h * w, "CA's 1 x 1 convs run on the pooled strips, H + W positions per image, not on "
                                  "all H x W positions."),
        (6 * quarter, "Each output conv runs on its own strip only: conv_h on the H rows, conv_w on the W "
                      "columns; the shared conv runs on all H + W."),
        (8 * quarter, "The shared conv runs once on the joined strips (H + W positions) and each output conv on "
                      "its own strip: 4 N C mip (H + W) FLOPs."),
        (4 * n * c * (c // 32) * (h + w), f"The mip rule is missing: for C={c} the hidden width is "
                                          f"mip = max(8, C // 32) = {mip}, not {c // 32}."),
        (4 * n * c * (c / 32) * (h + w), f"For C={c} the hidden width is mip = max(8, C // 32) = {mip}, not "
                                         f"C / 32 = {c / 32:g}."),
    ]


@reader_check
def check_counted_flops(fn: Callable[[str, tuple[int, int, int, int]], int]) -> None:
    """Check a reader's ``fn(name, shape) -> int``: the FLOPs the counter reports for one module.

    Args:
        fn: called as ``fn(name, (N, C, H, W))`` with ``name`` in ``FLOP_NAMES`` (``"se"``,
            ``"eca"``, ``"cbam"``, ``"coord"``); must return, as an int, what
            ``count_flops(make_attention(name, C), (N, C, H, W))`` reports with the registry
            defaults: SE 4 N C h and CBAM 8 N C h + 196 N H W with h = C // 16; ECA 2 N C k with
            k = psi(C); Coordinate Attention 4 N C mip (H + W) with mip = max(8, C // 32).

    Prints one line when ``fn`` is right for every case. Raises ``AssertionError`` with one
    sentence when it is not, naming the slip: MACs instead of FLOPs, one image instead of N,
    bias additions counted, a layer run at every position instead of once per image (or CA's
    convs on H x W instead of the strips), CBAM's MLP counted for one pooled vector or its
    spatial conv with one input map, ECA with the wrong k, CA without its mip rule.
    """
    cases = _flop_cases()
    for name, shape in cases:
        want = _reference_flops(name, shape)
        got = call_answer(fn, name, shape)
        call = f"fn({name!r}, {shape})"
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(f"{call} returned {got!r}: return the number of FLOPs as an int.")
        if got == want and isinstance(got, numbers.Integral):
            continue
        if got == want:
            raise AssertionError(
                f"{call} returned the float {got!r}: a FLOP count is an int; build the hidden widths with "
                f"floor division (C // 16, C // 32) and the count stays an int."
            )
        for value, message in _wrong_flops(name, shape):
            if math.isclose(got, value, rel_tol=1e-9, abs_tol=1e-6):
                raise AssertionError(message)
        raise AssertionError(
            f"{call} = {got:,} but count_flops(make_attention({name!r}, {shape[1]}), {shape}) reports {want:,}."
        )
    print(f"Correct: your counts match count_flops for {len(cases)} (module, shape) cases of SE, ECA, CBAM and CA.")
