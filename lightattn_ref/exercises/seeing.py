"""Exercise checks for the chapter on seeing attention (notebooks/09_seeing_attention.ipynb).

- ``check_gradcam_weights``: Grad-CAM's map from a layer's activations and gradients,
  ReLU(sum_k alpha_k A_k) with alpha_k the spatial mean of the gradient (eqs. seeing-alpha and
  seeing-cam).
- ``check_peak_location``: where a map is largest, as (row, column) per image.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ._common import as_tensor, call_answer, reader_check, reject_known_mistakes

__all__: list[str] = ["check_gradcam_weights", "check_peak_location", "reference_cam", "reference_peak"]

# (N, K, h, w): non-square maps, so an average over the wrong axes shows up, and K != h, w.
_CAM_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 5, 4, 6), (3, 7, 6, 3), (1, 4, 5, 5))
# (N, H, W) for the peak check: non-square first, so swapped axes or a wrong divisor show up.
_PEAK_SHAPES: tuple[tuple[int, int, int], ...] = ((6, 5, 9), (4, 11, 3), (3, 7, 7))


def reference_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """Eqs. seeing-alpha and seeing-cam: (N, K, h, w) twice -> the unnormalised map (N, h, w)."""
    alpha = gradients.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    return torch.relu((alpha * activations).sum(dim=1))


def reference_peak(maps: Tensor) -> tuple[Tensor, Tensor]:
    """Row and column of the largest value of each map (N, H, W): two int64 tensors (N,)."""
    flat = maps.flatten(1).argmax(dim=1)
    return flat // maps.shape[2], flat % maps.shape[2]


def _cam_case(seed: int, shape: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
    """Activations >= 0 (they follow a ReLU) and gradients of both signs, so some positions of
    sum_k alpha_k A_k are negative and the ReLU matters."""
    gen = torch.Generator().manual_seed(seed)
    activations = torch.rand(shape, generator=gen) * 2.0
    gradients = torch.randn(shape, generator=gen) + 0.3 * torch.randn(shape[:2] + (1, 1), generator=gen)
    return activations, gradients


@reader_check
def check_gradcam_weights(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's ``fn(activations, gradients) -> cam``, Grad-CAM before upsampling.

    Args:
        fn: takes the activations A and the gradients dy^c/dA of one layer, both (N, K, h, w),
            and returns ReLU(sum_k alpha_k A_k) of shape (N, h, w), with alpha_k the mean of the
            gradient over the h x w positions of channel k. No upsampling, no normalisation.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: the maximum (or the sum) of the gradient instead of its mean, a
    missing ReLU, a mean over the wrong axis, per-position gradient weights, or a map divided by
    its maximum.
    """
    for seed, shape in enumerate(_CAM_SHAPES):
        n, k, h, w = shape
        a, g = _cam_case(700 + seed, shape)
        want = reference_cam(a, g)
        got = as_tensor(call_answer(fn, a.clone(), g.clone()), (n, h, w))
        if tuple(got.shape) != (n, h, w):
            if tuple(got.shape) == shape:
                raise AssertionError(
                    f"Your map has shape {tuple(got.shape)}, one per channel: sum over the channels so it has "
                    f"shape {(n, h, w)}."
                )
            raise AssertionError(
                f"For activations of shape {shape} the map must have shape {(n, h, w)}, got {tuple(got.shape)}."
            )
        if torch.allclose(got, want, atol=1e-5):
            continue
        raw = (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1)
        mistakes = (
            (torch.relu((g.amax(dim=(2, 3), keepdim=True) * a).sum(dim=1)),
             "You took the maximum of the gradient over the positions: alpha_k is its mean over h x w."),
            (torch.relu((g.sum(dim=(2, 3), keepdim=True) * a).sum(dim=1)),
             f"You summed the gradient over the positions: alpha_k is its mean, {h * w} times smaller here."),
            (raw,
             "Your map has negative values: Grad-CAM keeps only what speaks for the class, ReLU of the sum."),
            (torch.relu((g.mean(dim=1, keepdim=True) * a).sum(dim=1)),
             "You averaged the gradient over the channels (dim 1): alpha_k averages over the positions "
             "(dims 2 and 3), one weight per channel."),
            (torch.relu((g * a).sum(dim=1)),
             "You weighted each position by its own gradient: Grad-CAM first averages the gradient over the "
             "positions, one weight alpha_k per channel."),
            (want / want.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None],
             "Your map is divided by its maximum: return it before any normalisation."),
        )
        reject_known_mistakes(got, mistakes)
        raise AssertionError(
            f"For activations of shape {shape} your map differs from ReLU(sum_k alpha_k A_k) by up to "
            f"{float((got - want).abs().max()):.3g}."
        )
    print(f"Correct: Grad-CAM maps match ReLU(sum_k alpha_k A_k) for {len(_CAM_SHAPES)} shapes.")


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
