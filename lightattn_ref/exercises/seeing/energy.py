"""``check_box_energy``: the share of each map's mass on the object, averaged over images with one."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import torch
from torch import Tensor

from .._common import call_answer, reader_check


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
