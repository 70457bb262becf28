"""``check_channel_shuffle``: ShuffleNet's channel shuffle (eq. sa-shuffle) against ``channel_shuffle``."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...attention.shuffle import channel_shuffle
from .._common import as_tensor, call_answer, reader_check


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
