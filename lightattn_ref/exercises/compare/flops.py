"""``check_counted_flops``: the FLOPs ``count_flops`` reports for SE, ECA, CBAM and CA, from their layers."""

from __future__ import annotations

import functools
import math
import numbers
import random
from collections.abc import Callable

from ...attention import eca_kernel_size
from ...cost import count_flops
from ...registry import make_attention
from .._common import call_answer, reader_check


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
