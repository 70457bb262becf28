"""Exercise checks for the chapter on seeing attention (notebooks/09_seeing_attention.ipynb).

- ``check_gradcam_weights``: Grad-CAM's map from a layer's activations and gradients,
  ReLU(sum_kappa alpha_kappa A_kappa) with alpha_kappa the spatial mean of the gradient
  (eqs. seeing-alpha and seeing-cam).
- ``check_peak_location``: where a map is largest, as (row, column) per image.
- ``check_box_energy``: the share of each map's mass that lies on the object, averaged over
  the images that have one (a measure of all the map, where eq. seeing-hit looks at its peak).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from ._common import as_tensor, call_answer, reader_check, reject_known_mistakes

__all__: list[str] = [
    "check_box_energy",
    "check_gradcam_weights",
    "check_peak_location",
    "reference_box_energy",
    "reference_cam",
    "reference_peak",
]

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
    sum_kappa alpha_kappa A_kappa are negative and the ReLU matters."""
    gen = torch.Generator().manual_seed(seed)
    activations = torch.rand(shape, generator=gen) * 2.0
    gradients = torch.randn(shape, generator=gen) + 0.3 * torch.randn(shape[:2] + (1, 1), generator=gen)
    return activations, gradients


@reader_check
def check_gradcam_weights(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's ``fn(activations, gradients) -> cam``, Grad-CAM before upsampling.

    Args:
        fn: takes the activations A and the gradients dy^c/dA of one layer, both (N, K, h, w),
            and returns ReLU(sum_kappa alpha_kappa A_kappa) of shape (N, h, w), with alpha_kappa
            the mean of the gradient over the h x w positions of channel kappa. No upsampling,
            no normalisation.

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
             "You took the maximum of the gradient over the positions: alpha_kappa is its mean over h x w."),
            (torch.relu((g.sum(dim=(2, 3), keepdim=True) * a).sum(dim=1)),
             f"You summed the gradient over the positions: alpha_kappa is its mean, {h * w} times smaller here."),
            (raw,
             "Your map has negative values: Grad-CAM keeps only what speaks for the class, ReLU of the sum."),
            (torch.relu((g.mean(dim=1, keepdim=True) * a).sum(dim=1)),
             "You averaged the gradient over the channels (dim 1): alpha_kappa averages over the positions "
             "(dims 2 and 3), one weight per channel."),
            (torch.relu((g * a).sum(dim=1)),
             "You weighted each position by its own gradient: Grad-CAM first averages the gradient over the "
             "positions, one weight alpha_kappa per channel."),
            (want / want.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None],
             "Your map is divided by its maximum: return it before any normalisation."),
        )
        reject_known_mistakes(got, mistakes)
        raise AssertionError(
            f"For activations of shape {shape} your map differs from ReLU(sum_kappa alpha_kappa A_kappa) by up to "
            f"{float((got - want).abs().max()):.3g}."
        )
    print(f"Correct: Grad-CAM maps match ReLU(sum_kappa alpha_kappa A_kappa) for {len(_CAM_SHAPES)} shapes.")


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


# (N, H, W, box height, box width) for the energy check: the chapter's 16 x 16 maps with 3 x 3
# squares, then non-square maps and boxes; the last case holds an all-zero map with a target.
_ENERGY_CASES: tuple[tuple[int, int, int, int, int], ...] = ((12, 16, 16, 3, 3), (9, 7, 11, 2, 4), (10, 12, 9, 3, 3))


def reference_box_energy(maps: Tensor, target: Tensor) -> float:
    """Share of each map's sum that lies in its target, averaged over the images with a target.

    Args:
        maps: (N, H, W), values >= 0. target: (N, H, W) bool, empty for images without an object.

    Returns:
        the mean, over the images n with a target, of sum_{B_n} M_n / sum M_n (eq. of
        Exercise 4 in chapter 09); an all-zero map has share 0.
    """
    has = target.flatten(1).any(dim=1)
    inside = (maps * target).flatten(1).sum(dim=1)[has]
    total = maps.flatten(1).sum(dim=1)[has]
    share = torch.where(total > 0, inside / total.clamp_min(torch.finfo(maps.dtype).tiny), torch.zeros_like(total))
    return float(share.mean())


def _energy_case(seed: int, n: int, h: int, w: int, bh: int, bw: int, zero_map: bool) -> tuple[Tensor, Tensor]:
    """Maps >= 0 with a bump near (sometimes on) the box, so shares spread from near 0 to near 1,
    and boxes in about two thirds of the images; with ``zero_map`` one image with a box gets an
    all-zero map (as Grad-CAM gives when no channel speaks for the class)."""
    gen = torch.Generator().manual_seed(seed)
    maps = torch.rand(n, h, w, generator=gen) ** 3
    target = torch.zeros(n, h, w, dtype=torch.bool)
    with_box = torch.rand(n, generator=gen) < 0.67
    with_box[:2] = True  # at least two images with a target
    with_box[-1] = False  # and at least one without
    rows, cols = torch.arange(h)[:, None], torch.arange(w)[None, :]
    for i in range(n):
        top = int(torch.randint(h - bh + 1, (1,), generator=gen))
        left = int(torch.randint(w - bw + 1, (1,), generator=gen))
        if with_box[i]:
            target[i, top:top + bh, left:left + bw] = True
        shift = torch.randint(-2, 3, (2,), generator=gen)  # the bump is near the box, not always on it
        centre = (top + bh / 2 - 0.5 + float(shift[0]), left + bw / 2 - 0.5 + float(shift[1]))
        height = 3.0 * float(torch.rand(1, generator=gen))
        maps[i] += height * torch.exp(-((rows - centre[0]) ** 2 + (cols - centre[1]) ** 2) / 2.0)
    if zero_map:
        maps[1] = 0.0
    return maps, target


def _energy_mistakes(maps: Tensor, target: Tensor) -> list[tuple[float, str]]:
    """Values typical wrong answers give for one case, each with the sentence that names the slip."""
    has = target.flatten(1).any(dim=1)
    inside = (maps * target).flatten(1).sum(dim=1)
    total = maps.flatten(1).sum(dim=1)
    safe = total.clamp_min(1e-30)
    share = torch.where(total > 0, inside / safe, torch.zeros_like(total))
    size = target.flatten(1).sum(dim=1).clamp_min(1)
    area = maps.shape[1] * maps.shape[2]
    peak = maps.flatten(1).argmax(dim=1)
    hits = target.flatten(1)[torch.arange(len(peak)), peak].float()
    nonzero = has & (total > 0)
    return [
        (float(share.mean()),
         "You averaged over all N images: average only over the images that have a target (label 1); an "
         "image without a bright square has no box B_n."),
        (float(inside[has].sum() / total[has].sum()),
         "You divided the mass in all boxes by the mass of all maps: take each image's share first, then "
         "average the shares, so every image counts the same."),
        (float(inside.sum() / total.sum()),
         "You divided the mass in all boxes by the mass of all maps, images without a target included: "
         "take each image's share, then average over the images with a target."),
        (float(share[nonzero].mean()),
         "You left the all-zero maps out: a map with no mass anywhere has none on the object, so count its "
         "share as 0."),
        (float((inside / maps.flatten(1).amax(dim=1).clamp_min(1e-30))[has].mean()),
         "You divided by the map's maximum: the share divides the sum inside the box by the map's sum over "
         "all positions."),
        (float((share * area / size)[has].mean()),
         "You divided the mean inside the box by the mean of the map: divide the sum inside the box by the "
         "sum of the whole map."),
        (float(inside[has].mean()),
         "You returned the mass inside the box without dividing by the map's total: the share is a "
         "fraction of each map's sum."),
        (float(hits[has].mean()),
         "That is the peak hit rate of eq. seeing-hit: the energy share counts all of each map's mass in "
         "the box, not only where its peak lies."),
    ]


@reader_check
def check_box_energy(fn: Callable[[Tensor, Tensor], float]) -> None:
    """Check a reader's ``fn(maps, target) -> float``: the share of each map's mass on the object.

    Args:
        fn: takes maps (N, H, W) with values >= 0 (e.g. Grad-CAM maps) and a bool target (N, H, W)
            that marks each image's object, the box B_n (empty for images without one), and
            returns one number: the mean over the images with a target of
            sum_{B_n} M_n / sum M_n, an all-zero map counting 0.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: images without a target averaged in, one ratio of totals instead
    of a mean of shares, nan (or a skipped image) for an all-zero map, a map divided by its
    maximum, a ratio of means, no division at all, or the peak hit rate.
    """
    for seed, (n, h, w, bh, bw) in enumerate(_ENERGY_CASES):
        zero_map = seed == len(_ENERGY_CASES) - 1
        maps, target = _energy_case(1100 + seed, n, h, w, bh, bw, zero_map)
        want = reference_box_energy(maps, target)
        got = call_answer(fn, maps.clone(), target.clone())
        if isinstance(got, Tensor):
            if got.numel() != 1:
                raise AssertionError(
                    f"fn returned a tensor of shape {tuple(got.shape)}: average the shares and return one number."
                )
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, numbers.Real):
            raise AssertionError(f"fn returned {got!r}: return the mean share as one number.")
        got = float(got)
        if math.isnan(got):
            raise AssertionError(
                "fn returned nan: an all-zero map gives 0 / 0; its share of the mass on the object is 0."
            )
        if math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-6):
            continue
        for value, message in _energy_mistakes(maps, target):
            if math.isclose(got, value, rel_tol=1e-4, abs_tol=1e-6):
                raise AssertionError(message)
        raise AssertionError(
            f"For maps of shape {(n, h, w)} the mean share of the mass in the target is {want:.4f}, not {got:.4f}."
        )
    print(f"Correct: the share of each map's mass on its target, averaged over the images with one, for "
          f"{len(_ENERGY_CASES)} sets of maps (an all-zero map included).")
