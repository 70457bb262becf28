"""``check_shuffle_period``: how many shuffles bring every channel back, against repeated shuffling."""

from __future__ import annotations

import contextlib
import math
import numbers
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator

import torch

from ...attention.shuffle import channel_shuffle
from .._common import call_answer, reader_check


# (C, G) for check_shuffle_period: the powers of two come first (there log2 C is right by luck),
# then pairs where log_G C, the group count 2, or channel 0 alone give another number;
# G = C and G = 1 leave every channel in place (one shuffle is already a full period).
_PERIOD_CASES: tuple[tuple[int, int], ...] = (
    (16, 2), (256, 2), (12, 2), (10, 2), (24, 3), (64, 4), (12, 4), (48, 8), (100, 2), (18, 3),
    (20, 4), (6, 3), (36, 6), (27, 3), (128, 8), (30, 5), (12, 12), (9, 1), (200, 2), (96, 32),
)
_PERIOD_RANDOM = 12  # more pairs (C, G), C in [3, 200], G a divisor of C, from a fixed seed
_PERIOD_TIME_LIMIT_S = 3.0  # per call; a loop that waits for G^T = 1 modulo C never ends


class _TookTooLong(BaseException):
    """Raised by the alarm inside the reader's code; a BaseException, so ``call_answer`` lets it through."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with ``_TookTooLong`` after ``seconds`` (main thread with SIGALRM only;
    elsewhere the block runs without a limit). A timer that was already set is restored."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_alarm(_signum: int, _frame: object) -> None:
        raise _TookTooLong

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay > 0:
            remaining = max(old_delay - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, remaining, old_interval)


def _period_by_shuffling(channels: int, groups: int) -> int:
    """Apply the package's ``channel_shuffle`` to the labels 0..C-1 until they are in order again."""
    start = torch.arange(channels, dtype=torch.float32).view(1, channels, 1, 1)
    current, times = channel_shuffle(start, groups), 1
    while not torch.equal(current, start):
        current, times = channel_shuffle(current, groups), times + 1
    return times


def _multiplicative_order(base: int, modulus: int) -> int | None:
    """Smallest T >= 1 with base^T = 1 modulo ``modulus`` (None when there is none)."""
    if modulus == 1:
        return 1
    if math.gcd(base, modulus) != 1:
        return None
    times, power = 1, base % modulus
    while power != 1:
        power, times = power * base % modulus, times + 1
    return times


def _period_cases() -> list[tuple[int, int]]:
    rng = random.Random(5000)
    cases = list(_PERIOD_CASES)
    while len(cases) < len(_PERIOD_CASES) + _PERIOD_RANDOM:
        channels = rng.randint(3, 200)
        groups = rng.choice([g for g in range(2, channels) if channels % g == 0] or [1])
        if (channels, groups) not in cases:
            cases.append((channels, groups))
    return cases


def _diagnose_period(got: float, want: int, channels: int, groups: int) -> str:
    case = f"for C = {channels} and G = {groups}"
    if got == want + 1:
        return (f"{case} the answer is one too many ({got} instead of {want}): count the shuffles, "
                f"not the states: the starting order comes after 0 shuffles, the first return after {want}.")
    if got == want - 1:
        return (f"{case} the answer is one too few ({got} instead of {want}): after {got} shuffles some channels "
                f"are still away; count every shuffle, including the last one that brings them home.")
    if got == 1 and want > 1:
        return (f"{case} you returned 1, but {want} shuffles are needed: channels 0 and C - 1 never move, so "
                f"follow channel 1 (no channel takes longer to come back) or all channels.")
    if groups != 2 and got == _multiplicative_order(2, channels - 1):
        return (f"{case} your answer {got} is the period of shuffles with 2 groups: use the groups argument, "
                f"channel c moves to G c mod (C - 1).")
    logs = [math.log(channels, groups)] if groups > 1 else []
    logs.append(math.log2(channels))
    if any(math.isclose(got, v) or got in (math.floor(v), math.ceil(v), round(v)) for v in logs):
        return (f"{case} you returned {got}, a logarithm of C, but the channels come back after {want} shuffles: "
                f"log_G C is right only when C is a power of G; use the rule c -> G c mod (C - 1).")
    if got > want and got % want == 0:
        return (f"{case} after {got} shuffles every channel is back, but already after {want}: "
                f"return the smallest such number.")
    return (f"{case} every channel is back after {want} shuffles, not {got}: "
            f"channel c moves to G c mod (C - 1), so look for the smallest T >= 1 with G^T = 1 modulo C - 1.")


@reader_check
def check_shuffle_period(shuffle_period: Callable[[int, int], int]) -> None:
    """Check a reader's ``shuffle_period(channels, groups)`` against repeated ``channel_shuffle``.

    Args:
        shuffle_period: ``shuffle_period(C, G) -> T`` for C >= 3 channels and G groups, G a divisor
            of C: the period T, the smallest number T >= 1 of shuffles with G groups after which
            every channel is back at its place. Since a shuffle sends channel c to G c mod (C - 1)
            (channel C - 1 stays), T is the smallest T >= 1 with G^T = 1 modulo C - 1.

    The check runs 32 pairs (C, G), among them C = 256 with G = 2, and finds each period by
    shuffling labelled channels with the package's ``channel_shuffle``. Each call gets 3 seconds
    (a loop that waits for G^T = 1 modulo C never ends, since G divides C), where the platform
    allows an alarm. Prints one line when every period is right.

    Raises:
        AssertionError: with one sentence naming the mistake (working modulo C instead of C - 1,
            a logarithm of C, one shuffle too many or too few, a fixed group count of 2, a
            multiple of the period, following channel 0, not returning an int).
    """
    cases = _period_cases()
    not_an_int: str | None = None
    for channels, groups in cases:
        want = _period_by_shuffling(channels, groups)
        call = f"shuffle_period({channels}, {groups})"
        try:
            with _time_limit(_PERIOD_TIME_LIMIT_S):
                got = call_answer(shuffle_period, channels, groups, what=call)
        except _TookTooLong:
            raise AssertionError(
                f"{call} did not return within {_PERIOD_TIME_LIMIT_S:g} s: a loop that waits for G^T = 1 modulo C "
                f"never ends, because G divides C; the shuffle moves channel c to G c mod (C - 1)."
            ) from None
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if got is None:
            raise AssertionError(
                f"{call} returned None: return the number of shuffles; if a search gave up, check its modulus "
                f"(G^T modulo C never equals 1, because G divides C: work modulo C - 1)."
            )
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(
                f"{call} returned {got!r} of type {type(got).__name__}, not a whole number of shuffles."
            )
        if got != want:
            raise AssertionError(_diagnose_period(got, want, channels, groups))
        if not isinstance(got, numbers.Integral) and not_an_int is None:
            not_an_int = f"{call} returned {got!r}, a {type(got).__name__}: return an int (a count of shuffles)."
    if not_an_int is not None:  # after the values, so that a wrong rule is named before a wrong type
        raise AssertionError(not_an_int)
    print(f"Correct: your periods match repeated channel_shuffle for {len(cases)} pairs (C, G); "
          f"C = 256 channels with 2 groups come back after {_period_by_shuffling(256, 2)} shuffles.")
