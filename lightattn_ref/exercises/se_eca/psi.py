"""``check_psi``: ECA's kernel-size rule k = psi(C) (eq. eca-psi), with the paper's reference."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable

from .._common import call_answer, reader_check


def reference_psi(channels: int, gamma: float = 2, b: float = 1) -> int:
    """Eq. eca-psi as the paper's code computes it: ``t = int(abs((log2(C) + b) / gamma))`` (the integer part
    of z), then the next odd."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1


def _psi_with_log(channels: int, gamma: float, b: float, log: Callable[[float], float]) -> int:
    """The rule with another logarithm (a typical mistake)."""
    t = int(abs((log(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1


def _psi_cases() -> list[tuple[int, float, float]]:
    """40 (C, gamma, b) cases: the six ResNet widths, other widths seen in CNNs, random ones and
    non-default constants (the paper's (2, 1) first, so a default-only mistake shows up last)."""
    widths = [64, 128, 256, 512, 1024, 2048, 16, 24, 32, 96, 160, 320, 576, 960, 1280, 4096]
    rng = random.Random(2020)
    widths += rng.sample(range(3, 5000), 12)
    cases = [(c, 2.0, 1.0) for c in widths]
    for gamma, b in ((1.0, 1.0), (3.0, 1.0), (2.0, 0.0), (2.0, 3.0), (1.5, 1.0), (3.0, 2.0)):
        cases += [(c, gamma, b) for c in rng.sample(widths, 2)]
    return cases


def _describe(channels: int, gamma: float, b: float) -> str:
    if (gamma, b) == (2.0, 1.0):
        return f"psi({channels})"
    return f"psi({channels}, gamma={gamma:g}, b={b:g})"


@reader_check
def check_psi(fn: Callable[..., int]) -> None:
    """Check a reader's ``fn(channels, gamma=2, b=1) -> k``, ECA's kernel-size rule (eq. eca-psi).

    Args:
        fn: returns the odd kernel size k for C = ``channels``; it is called as ``fn(C)`` for the
            paper's constants and as ``fn(C, gamma, b)`` for others.

    Prints one line when ``fn`` agrees with the rule on 40 cases. Raises ``AssertionError`` with
    one sentence otherwise, naming the mistake: a non-int result, an even kernel, a forgotten b,
    another logarithm than log2, a wrong rounding of z = (log2 C + b) / gamma, or constants hard-coded instead of gamma and b.
    """
    cases = _psi_cases()
    results = []
    for channels, gamma, b in cases:
        got = call_answer(fn, channels) if (gamma, b) == (2.0, 1.0) else call_answer(fn, channels, gamma, b)
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise AssertionError(
                f"{_describe(channels, gamma, b)} returned {type(got).__name__} {got!r}; return an int, since "
                f"nn.Conv1d needs an integer kernel size."
            )
        results.append(int(got))
    wrong = [(case, got) for case, got in zip(cases, results) if got != reference_psi(*case)]
    if wrong:
        (channels, gamma, b), got = wrong[0]
        call, want = _describe(channels, gamma, b), reference_psi(channels, gamma, b)
        z = (math.log2(channels) + b) / gamma
        if got % 2 == 0:
            raise AssertionError(
                f"kernel {got} for C={channels} is even: ECA needs an odd k so the output keeps C values."
            )
        if all(got == reference_psi(c, g, 0) for (c, g, _), got in zip(cases, results)):
            raise AssertionError(
                f"{call} returned {got} but the rule gives {want}: you forgot b, the rule is "
                f"k = |(log2 C + b) / gamma|_odd."
            )
        if all(got == reference_psi(c) for (c, _, _), got in zip(cases, results)):
            raise AssertionError(
                f"{call} returned {got}, the value for gamma=2 and b=1, but the rule gives {want}: use the "
                f"gamma and b arguments instead of fixed constants."
            )
        for log in (math.log, math.log10):
            if all(got == _psi_with_log(c, g, b_, log) for (c, g, b_), got in zip(cases, results)):
                raise AssertionError(
                    f"{call} returned {got} but the rule gives {want}: use the base-2 logarithm log2(C), "
                    f"not {log.__name__}."
                )
        if abs(got - z) <= 2:
            raise AssertionError(
                f"{call} returned {got} but the rule gives {want}: with z = (log2 C + b) / gamma = {z:.4g}, "
                f"take int(z) and add 1 when it is even (the nearest odd number, ties going up)."
            )
        raise AssertionError(f"{call} returned {got} but the rule k = |(log2 C + b) / gamma|_odd gives {want}.")
    print(f"Correct: psi(C) matches the paper's rule for {len(cases)} values of C, gamma and b.")
