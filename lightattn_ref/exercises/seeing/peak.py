"""``check_peak_location``: the (row, column) where each map is largest."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._common import call_answer, reader_check


# (N, H, W) for the peak check: non-square first, so swapped axes or a wrong divisor show up.
_PEAK_SHAPES: tuple[tuple[int, int, int], ...] = ((6, 5, 9), (4, 11, 3), (3, 7, 7))


def reference_peak(maps: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column of the largest value of each map (N, H, W): two int64 tensors (N,)."""
    flat = maps.flatten(1).argmax(dim=1)
    return flat // maps.shape[2], flat % maps.shape[2]


def _peak_case(seed: int, shape: tuple[int, int, int]) -> Tensor:
    """Random maps in [0, 1), each with one clear maximum (2.0) at a random place whose row and
    column differ, so swapped axes give a wrong answer also on square maps."""
    gen = torch.Generator().manual_seed(seed)
    maps = torch.rand(shape, generator=gen)
    n, h, w = shape
    rows = torch.randint(h, (n,), generator=gen)
    cols = torch.randint(w, (n,), generator=gen)
    cols = torch.where(rows == cols, (cols + 1) % w, cols)  # row != column, so a swap is visible
    maps[torch.arange(n), rows, cols] = 2.0
    return maps


@reader_check
def check_peak_location(fn: Callable[[Tensor], tuple[Tensor, Tensor]]) -> None:
    """Check a reader's ``fn(maps) -> (rows, cols)``: where each map is largest.

    Args:
        fn: takes maps of shape (N, H, W) and returns two integer tensors of shape (N,): the row
            (index along H) and the column (index along W) of each map's maximum.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: swapped axes, a flat index, dividing the flat index by H instead
    of W, or the minimum instead of the maximum.
    """
    for seed, shape in enumerate(_PEAK_SHAPES):
        n, h, w = shape
        maps = _peak_case(900 + seed, shape)
        want_rows, want_cols = reference_peak(maps)
        result = call_answer(fn, maps.clone())
        if isinstance(result, Tensor) and result.dim() == 1:
            raise AssertionError("fn returned one tensor (a flat index?): return two tensors, (rows, cols).")
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise AssertionError("fn(maps) must return two tensors, (rows, cols).")
        rows, cols = (torch.as_tensor(r) for r in result)
        if rows.shape != (n,) or cols.shape != (n,):
            raise AssertionError(
                f"For maps of shape {shape} rows and cols must each have shape ({n},), got "
                f"{tuple(rows.shape)} and {tuple(cols.shape)}."
            )
        if rows.dtype.is_floating_point or cols.dtype.is_floating_point:
            raise AssertionError("Return integer indices (e.g. from argmax), not floats.")
        if torch.equal(rows, want_rows) and torch.equal(cols, want_cols):
            continue
        if torch.equal(rows, want_cols) and torch.equal(cols, want_rows):
            raise AssertionError("Your rows and columns are swapped: return (row along H, column along W).")
        flat = maps.flatten(1).argmax(dim=1)
        if torch.equal(rows, flat // h) or torch.equal(cols, flat % h):
            raise AssertionError(
                f"You divided the flat index by H = {h}; in a row-major (H, W) map it is row * W + column, so "
                f"divide by the width W = {w}."
            )
        low_rows, low_cols = reference_peak(-maps)
        if torch.equal(rows, low_rows) and torch.equal(cols, low_cols):
            raise AssertionError("You found the minimum: the peak is where the map is largest (argmax).")
        raise AssertionError(f"For maps of shape {shape} your (row, col) pairs do not point at the maxima.")
    print(f"Correct: (row, col) of the maximum for {sum(s[0] for s in _PEAK_SHAPES)} maps of "
          f"{len(_PEAK_SHAPES)} shapes, square and not.")
