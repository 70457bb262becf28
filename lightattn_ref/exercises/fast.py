"""Exercise checks for the appendix on making the modules fast (notebooks/10_making_them_fast.ipynb).

- ``check_gate_in_chunks``: a channel gate a of shape (N, C, 1, 1) applied to x in place, a few
  channels at a time, so that no operation writes a tensor as large as x.
- ``check_chunk_channels``: how many channels of x fit in a cache of a given size (eq. fast-chunk).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .._compat import TorchDispatchMode, tree_leaves
from ._common import answer_error, as_tensor, call_answer, close, reader_check, reject_known_mistakes

__all__: list[str] = ["check_chunk_channels", "check_gate_in_chunks", "reference_chunk_channels"]

# (N, C, H, W, chunk): C not a multiple of the chunk first (a last, shorter chunk), then
# a multiple, one channel at a time, and a chunk wider than x (one chunk: all of x at once).
_GATE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 10, 5, 7, 4),
    (3, 16, 4, 4, 8),
    (1, 6, 9, 3, 1),
    (2, 5, 3, 4, 8),
)


class _LargestWrite(TorchDispatchMode):
    """Records the most elements any one operation wrote (views, which write nothing, excluded)."""

    def __init__(self) -> None:
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        if not func.is_view:
            sizes = [t.numel() for t in tree_leaves(out) if isinstance(t, Tensor)]
            self.largest = max([self.largest, *sizes])
        return out


def _gate_case(seed: int, n: int, c: int, h: int, w: int) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, w, generator=gen), torch.rand(n, c, 1, 1, generator=gen)


def _gate_mistakes(x0: Tensor, gate: Tensor, chunk: int) -> list[tuple[Tensor, str]]:
    """What typical slips leave in x, each with the sentence that names it."""
    c = x0.shape[1]
    first = x0.clone()
    first[:, :chunk] *= gate[:, :chunk]
    full = (c // chunk) * chunk
    no_tail = x0.clone()
    no_tail[:, :full] *= gate[:, :full]
    same_slice = x0.clone()
    for c0 in range(0, c, chunk):
        c1 = min(c0 + chunk, c)
        same_slice[:, c0:c1] *= gate[:, : c1 - c0]
    mistakes = [
        (same_slice, "Every chunk of x got the gate's first channels: slice the gate like x, gate[:, c0:c1]."),
        (first, "Only the first chunk of channels is gated: loop over all of them, c0 = 0, chunk, 2 chunk, ..."),
    ]
    if full < c:
        mistakes.append(
            (no_tail, f"The last, shorter chunk is missing: with C = {c} and chunk = {chunk}, channels "
                      f"{full} to {c - 1} are left ungated (loop with range(0, C, chunk) and clip c1 at C).")
        )
    return mistakes


def _bad_gates(n: int, c: int, h: int, w: int) -> list[Tensor]:
    """Gates of wrong shapes: a vector per image, one channel too many, and a full-size map."""
    gen = torch.Generator().manual_seed(0)  # the reader's random stream stays untouched
    return [torch.rand(n, c, generator=gen), torch.rand(n, c + 1, 1, 1, generator=gen),
            torch.rand(n, c, h, w, generator=gen)]


@reader_check
def check_gate_in_chunks(fn: Callable[[Tensor, Tensor, int], Tensor]) -> None:
    """Check a reader's ``fn(x, gate, chunk) -> x``: the gated x, written in place, chunk by chunk.

    Args:
        fn: takes x (N, C, H, W), a channel gate of shape (N, C, 1, 1) and a positive int
            ``chunk``; multiplies x by the gate ``chunk`` channels at a time, in place, and returns
            x itself. A gate of any other shape raises ``ValueError`` before x is touched.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not: a new tensor returned instead of x, an operation as large as x (no chunks, or a full-size
    temporary), the gate's channels not sliced with x's, a missing first or last chunk, or a
    gate of the wrong shape accepted (or rejected only after x was written).
    """
    for seed, (n, c, h, w, chunk) in enumerate(_GATE_CASES):
        x0, gate = _gate_case(1800 + seed, n, c, h, w)
        x = x0.clone()
        want = x0 * gate
        with _LargestWrite() as record:
            result = call_answer(fn, x, gate.clone(), chunk, what="gate_in_chunks")
        got = as_tensor(result, (n, c, h, w), what="gate_in_chunks")
        if got.shape != x.shape or got.data_ptr() != x.data_ptr():
            if close(got, want) and torch.equal(x, x0):
                raise AssertionError(
                    "Your function returned a new tensor and left x as it was: write the product into x "
                    "(x[:, c0:c1].mul_(...) or *=) and return x."
                )
            raise AssertionError("Return x itself, the tensor you were given, after writing into it.")
        limit = n * min(chunk, c) * h * w
        if record.largest > limit:
            raise AssertionError(
                f"For x of shape {(n, c, h, w)} and chunk = {chunk}, one operation wrote "
                f"{record.largest} elements at once, more than a chunk's {limit}: gate x[:, c0:c1] one chunk "
                f"after another, with no temporary as large as x."
            )
        if close(x, want):
            continue
        if torch.equal(x, x0):
            raise AssertionError("x is unchanged: multiply its chunks by the gate in place.")
        reject_known_mistakes(x, _gate_mistakes(x0, gate, chunk))
        raise AssertionError(
            f"For x of shape {(n, c, h, w)} and chunk = {chunk}, x differs from x * gate by up to "
            f"{float((x - want).abs().max()):.3g}."
        )
    n, c, h, w, chunk = _GATE_CASES[0]
    for bad in _bad_gates(n, c, h, w):
        x0, _ = _gate_case(1900, n, c, h, w)
        x = x0.clone()
        try:
            with torch.no_grad():
                fn(x, bad, chunk)
        except ValueError:
            if not torch.equal(x, x0):
                raise AssertionError(
                    f"Your function raised ValueError for a gate of shape {tuple(bad.shape)}, but only after "
                    f"writing into x: check the gate's shape before the loop."
                ) from None
            continue
        except Exception as error:  # noqa: BLE001 - any other failure is reported in one sentence
            raise AssertionError(
                f"For a gate of shape {tuple(bad.shape)} and x of shape {(n, c, h, w)}, "
                f"{str(answer_error(error, 'gate_in_chunks'))[:-1]}; check the gate's shape first and raise "
                f"ValueError."
            ) from None
        raise AssertionError(
            f"gate_in_chunks accepted a gate of shape {tuple(bad.shape)} for x of shape {(n, c, h, w)}: raise "
            f"ValueError unless the gate has shape (N, C, 1, 1) = {(n, c, 1, 1)}."
        )
    print(f"Correct: x * gate in place, a chunk at a time, for {len(_GATE_CASES)} shapes; "
          f"{len(_bad_gates(1, 1, 1, 1))} wrong gate shapes raise ValueError.")


# ------------------------------------------------------------------------------------------------
# Exercise 2: channels per chunk
# ------------------------------------------------------------------------------------------------

# (shape, cache bytes, bytes per element): ResNet-50 stage 1 at batch 8 and a 1 MiB cache first,
# then a quotient with a fraction above one half (rounding shows), half-precision elements,
# a small map where all C channels fit, and a large one where not even one channel fits.
_CHUNK_CASES: tuple[tuple[tuple[int, int, int, int], int, int], ...] = (
    ((8, 256, 56, 56), 1 << 20, 4),
    ((4, 512, 28, 28), 1 << 20, 4),
    ((8, 256, 56, 56), 2 << 20, 2),
    ((1, 64, 7, 7), 1 << 20, 4),
    ((32, 64, 112, 112), 1 << 20, 4),
    ((2, 96, 14, 14), 256 << 10, 4),
)


def reference_chunk_channels(shape: Sequence[int], cache_bytes: int, element_size: int = 4) -> int:
    """Channels c of x (N, C, H, W) whose chunk x[:, c0:c0 + c] fits in ``cache_bytes``: N c H W B <= cache,
    at least 1 (one channel even when it does not fit) and at most C."""
    n, c, h, w = shape
    return max(1, min(c, cache_bytes // (n * h * w * element_size)))


def _chunk_mistakes(shape: tuple[int, int, int, int], cache: int, size: int) -> list[tuple[float, str]]:
    n, c, h, w = shape
    per_channel = n * h * w * size
    rounding = "Rounding up (or to the nearest) makes a chunk larger than the cache: round down, with //."
    return [
        (min(c, cache // per_channel), "Keep at least one channel per chunk, even when a single channel does not fit "
                               "in the cache (max(1, ...))."),
        (max(1, cache // per_channel), f"A chunk cannot hold more than the C = {c} channels x has: clip at C."),
        (max(1, min(c, cache // (h * w * size))), "You forgot the batch: a chunk x[:, c0:c1] holds the channels "
                                                   "of all N images, N H W B bytes per channel."),
        (max(1, min(c, cache // (n * h * w))), "You counted elements, not bytes: multiply by the bytes per "
                                               "element (4 for float32)."),
        (max(1, min(c, -(-cache // per_channel))), rounding),
        (max(1, min(c, round(cache / per_channel))), rounding),
    ]


@reader_check
def check_chunk_channels(fn: Callable[..., int]) -> None:
    """Check a reader's ``fn(shape, cache_bytes, element_size=4) -> int``: channels per cache-sized chunk.

    Args:
        fn: takes the shape (N, C, H, W) of x, a cache size in bytes and the bytes per element,
            and returns the largest number of channels c with N c H W B <= cache_bytes, at least
            1 and at most C.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not: no lower bound of 1, no upper bound of C, the batch or the element size forgotten,
    rounding up or to the nearest, or a float instead of an int.
    """
    for shape, cache, size in _CHUNK_CASES:
        want = reference_chunk_channels(shape, cache, size)
        got = call_answer(fn, shape, cache, size, what="chunk_channels")
        if isinstance(got, Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(f"chunk_channels returned {got!r}: return the number of channels as an int.")
        if got == want and not isinstance(got, numbers.Integral):
            raise AssertionError(f"chunk_channels returned the float {got!r}: return an int (use //).")
        if got == want:
            continue
        for value, message in _chunk_mistakes(shape, cache, size):
            if math.isclose(got, value):
                raise AssertionError(message)
        raise AssertionError(
            f"For x of shape {shape}, a cache of {cache:,} bytes and {size} bytes per element, {want} channels "
            f"fit, not {got}."
        )
    print(f"Correct: channels per cache-sized chunk for {len(_CHUNK_CASES)} shapes, caches and element sizes.")
