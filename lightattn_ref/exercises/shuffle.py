"""Exercise checks for the Shuffle Attention chapter (notebooks/04_shuffle_attention.ipynb).

``check_channel_shuffle``: ShuffleNet's channel shuffle, eq. sa-shuffle: view C as
(groups, C / groups), swap the two axes, flatten; output channel i * groups + ℓ is input
channel ℓ * (C / groups) + i.
``check_sa_spatial_gate``: the gate of SA's spatial half, eq. sa-spatial,
sigma(w * GN(x) + b), where GN standardises each channel of each sample over its own H x W.
``check_shuffle_period``: how many shuffles with G groups bring every one of C channels back to
its place, checked against repeated ``channel_shuffle`` (the period T: the smallest T >= 1
with G^T = 1 modulo C - 1).

Each check runs the reader's function on random inputs, compares it with the package
(``channel_shuffle``, ``ShuffleAttention.attention_maps``), prints one line when it is right and
raises ``AssertionError`` with one sentence naming the mistake when it is wrong.
"""

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
from torch import Tensor

from ..attention.shuffle import ShuffleAttention, channel_shuffle
from ._common import as_tensor, call_answer, close, reader_check

__all__: list[str] = ["check_channel_shuffle", "check_sa_spatial_gate", "check_shuffle_period"]

# (N, C, H, W, groups): the first cases have groups != C / groups, so the inverse shuffle differs
_SHUFFLE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 12, 3, 4, 3),
    (1, 24, 2, 3, 4),
    (3, 18, 2, 2, 6),
    (2, 32, 1, 3, 8),
    (1, 16, 3, 3, 2),
    (2, 10, 2, 2, 5),
    (1, 8, 2, 2, 1),
)
# (N, m, H, W): small H * W makes the unbiased variance visibly different
_GATE_CASES: tuple[tuple[int, int, int, int], ...] = ((2, 4, 5, 6), (1, 3, 4, 4), (3, 8, 3, 7), (2, 2, 2, 3))


def _source_channels(out: Tensor, x: Tensor) -> list[int | None]:
    """For each output channel, the input channel it is an exact copy of (None if there is none)."""
    c = x.shape[1]
    sources: list[int | None] = []
    for j in range(out.shape[1]):
        match = [k for k in range(c) if torch.equal(out[:, j], x[:, k])]
        sources.append(match[0] if match else None)
    return sources


def _shuffle_order(c: int, groups: int) -> list[int]:
    """Input channel read by each output channel of a shuffle with ``groups`` groups."""
    return torch.arange(c).reshape(groups, c // groups).t().reshape(-1).tolist()


def _diagnose_shuffle(out: Tensor, x: Tensor, groups: int) -> str:
    c = x.shape[1]
    sources = _source_channels(out, x)
    if None in sources:
        j = sources.index(None)
        return (f"output channel {j} is not a copy of any input channel: a channel shuffle only moves whole "
                f"channels, so reshape and transpose the channel axis only (dim 1), never H or W.")
    if sources == list(range(c)):
        return ("the output equals the input: the transpose of the (groups, C/groups) axes is missing or was "
                "applied to a view that is then dropped, so the channels keep their order.")
    if sources == _shuffle_order(c, c // groups):
        return (f"the output is the shuffle with C/groups = {c // groups} groups, the inverse of the one asked: "
                f"view the channels as (groups, C/groups) = ({groups}, {c // groups}) before the transpose.")
    for other in range(2, c):
        if c % other == 0 and other != groups and sources == _shuffle_order(c, other):
            return (f"the output is the shuffle with {other} groups, not groups={groups}: "
                    f"use the groups argument instead of a fixed number.")
    expected = _shuffle_order(c, groups)
    j = next(j for j in range(c) if sources[j] != expected[j])
    return (f"for C={c} and groups={groups}, output channel {j} holds input channel {sources[j]} instead of "
            f"{expected[j]} (output channel i*groups + ℓ must read input channel ℓ*C/groups + i).")


@reader_check
def check_channel_shuffle(shuffle: Callable[[Tensor, int], Tensor]) -> None:
    """Check a reader's channel shuffle against the package's ``channel_shuffle``.

    Args:
        shuffle: ``shuffle(x, groups) -> y`` with x and y of shape (N, C, H, W) and C divisible
            by ``groups``: view C as (groups, C / groups), transpose these two axes, flatten them
            back (eq. sa-shuffle). The input must not be changed.

    Raises:
        AssertionError: with one sentence naming the mistake (missing transpose, the inverse
            shuffle, a fixed group count, moving values across H and W, changing x in place,
            ``view`` on a non-contiguous tensor, ...).
    """
    for i, (n, c, h, w, groups) in enumerate(_SHUFFLE_CASES):
        gen = torch.Generator().manual_seed(3000 + i)
        x = torch.randn(n, c, h, w, generator=gen)
        x_copy = x.clone()
        answer = call_answer(shuffle, x, groups)
        if not torch.equal(x, x_copy):
            raise AssertionError(
                "the function changed its input x in place: return a shuffled tensor and leave x as it was."
            )
        answer = as_tensor(answer, (n, c, h, w))
        if list(answer.shape) != [n, c, h, w]:
            raise AssertionError(
                f"for x of shape {[n, c, h, w]} the result has shape {list(answer.shape)}: "
                f"reshape back to (N, C, H, W) after the transpose."
            )
        if not torch.equal(answer, channel_shuffle(x, groups)):
            raise AssertionError(_diagnose_shuffle(answer, x, groups))
    print(f"Correct: the shuffle matches channel_shuffle for {len(_SHUFFLE_CASES)} shapes and group counts.")


def _reference_spatial_gate(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """The package's spatial-half gate: one SA group (G = 1) whose second half is ``x``."""
    n, m, h, w = x.shape
    module = ShuffleAttention(2 * m, groups=1)
    module.gn.eps = eps
    with torch.no_grad():
        module.sweight.copy_(weight)
        module.sbias.copy_(bias)
        full = torch.cat([torch.zeros_like(x), x], dim=1)  # channel half first, spatial half second
        return module.attention_maps(full)["spatial"]


def _standardise(x: Tensor, dims: tuple[int, ...], eps: float, correction: int = 0) -> Tensor:
    var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=correction)
    return (x - mean) / torch.sqrt(var + eps)


def _diagnose_gate(answer: Tensor, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> str:
    def gate(z: Tensor) -> Tensor:
        return torch.sigmoid(weight * z + bias)

    mean_hw = x.mean(dim=(2, 3), keepdim=True)
    known = [
        (gate(_standardise(x, (1,), eps)), "the gate standardises over the channel axis: the spatial half "
         "standardises each channel of each sample over its own H x W positions (dims 2 and 3)."),
        (gate(_standardise(x, (1, 2, 3), eps)), "the gate standardises over all channels and positions together "
         "(GroupNorm with one group): use one group per channel, each channel over its own H x W."),
        (gate(_standardise(x, (0, 2, 3), eps)), "the gate standardises over the batch and the positions "
         "(BatchNorm): each sample's channel is standardised on its own H x W, without the batch."),
        (gate(_standardise(x, (2,), eps)),
         "the gate standardises over H only: use both spatial axes (dims 2 and 3)."),
        (gate(_standardise(x, (3,), eps)),
         "the gate standardises over W only: use both spatial axes (dims 2 and 3)."),
        (gate(_standardise(x, (2, 3), eps, correction=1)), "the gate uses the unbiased variance (divides by "
         "H*W - 1): GroupNorm divides by H*W (correction=0 or unbiased=False)."),
        (weight * _standardise(x, (2, 3), eps) + bias, "the sigmoid is missing: the gate is sigma(w * GN(x) + b)."),
        (gate(x), "the gate uses x itself: standardise each channel over H x W first."),
        (gate(x - mean_hw), "the gate subtracts the mean but does not divide by sqrt(var + eps)."),
        (torch.sigmoid(_standardise(x, (2, 3), eps)),
         "the gate ignores the affine: apply w * GN(x) + b before the sigmoid."),
    ]
    for candidate, message in known:
        if close(answer, candidate):
            return message
    expected = _reference_spatial_gate(x, weight, bias, eps)
    error = (answer - expected).abs().max().item()
    return (f"the gate differs from sigma(w * GN(x) + b) by up to {error:.3g} for x of shape {list(x.shape)}: "
            f"standardise each channel over H x W with the biased variance and eps inside the square root.")


@reader_check
def check_sa_spatial_gate(spatial_gate: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> None:
    """Check a reader's gate of SA's spatial half against ``ShuffleAttention.attention_maps``.

    Args:
        spatial_gate: ``spatial_gate(x, weight, bias, eps) -> a`` with x of shape (N, m, H, W),
            weight and bias of shape (1, m, 1, 1) (``sweight``, ``sbias``) and a float eps. It must
            return a = sigma(weight * GN(x) + bias) of shape (N, m, H, W), where
            GN(x) = (x - mean) / sqrt(var + eps) with the mean and the biased variance of each
            channel of each sample over its H x W positions (GroupNorm(m, m) with its initial
            affine; eq. sa-spatial).

    Raises:
        AssertionError: with one sentence naming the mistake (standardising over the channels,
            over everything, over the batch, unbiased variance, missing eps, missing sigmoid, ...).
    """
    for i, (n, m, h, w) in enumerate(_GATE_CASES):
        gen = torch.Generator().manual_seed(4000 + i)
        x = 3 * torch.randn(n, m, h, w, generator=gen) + torch.randn(1, m, 1, 1, generator=gen)
        weight = 2 * torch.randn(1, m, 1, 1, generator=gen)
        bias = torch.randn(1, m, 1, 1, generator=gen)
        eps = 1e-5
        answer = call_answer(spatial_gate, x.clone(), weight.clone(), bias.clone(), eps)
        answer = as_tensor(answer, (n, m, h, w))
        if list(answer.shape) != [n, m, h, w]:
            raise AssertionError(
                f"for x of shape {[n, m, h, w]} the gate has shape {list(answer.shape)}: the spatial half "
                f"has one gate value per channel and position, shape (N, m, H, W)."
            )
        answer = answer.float()
        if not close(answer, _reference_spatial_gate(x, weight, bias, eps)):
            raise AssertionError(_diagnose_gate(answer, x, weight, bias, eps))
    # a constant channel has variance 0: only eps inside the square root keeps the gate finite
    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(4100))
    x[:, 1] = 0.7
    weight, bias = torch.full((1, 3, 1, 1), 1.5), torch.full((1, 3, 1, 1), 0.25)
    answer = as_tensor(call_answer(spatial_gate, x.clone(), weight, bias, 1e-5), tuple(x.shape)).float()
    if not bool(torch.isfinite(answer).all()):
        raise AssertionError("the gate is not finite for a constant channel (variance 0): "
                             "put eps inside the square root, sqrt(var + eps).")
    if not close(answer, _reference_spatial_gate(x, weight, bias, 1e-5)):
        raise AssertionError(_diagnose_gate(answer, x, weight, bias, 1e-5))
    print(f"Correct: sigma(w * GN(x) + b) matches SA's spatial gate for {len(_GATE_CASES) + 1} inputs, "
          f"including a constant channel.")


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
