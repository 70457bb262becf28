"""``check_unit_conversion``: a published cost figure (any prefix, FLOPs or MACs) in plain FLOPs."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable

from ...cost import convert_units
from .._common import call_answer, reader_check


#: The prefixes ``check_unit_conversion`` uses, in order of their power (K = first power).
UNIT_PREFIXES: tuple[str, ...] = ("K", "M", "G", "T")


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
