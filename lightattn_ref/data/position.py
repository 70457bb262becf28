"""A synthetic task where the label is *where* a bright square is, not what it is."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import TensorDataset


POSITION_TASKS: tuple[str, ...] = ("quadrant", "row", "column")


def position_task(
    n_train: int = 2000,
    n_test: int = 500,
    *,
    task: str = "quadrant",
    size: int = 16,
    channels: int = 1,
    square: int = 3,
    bands: int = 4,
    noise_std: float = 0.1,
    distractors: int = 0,
    seed: int = 0,
) -> tuple[TensorDataset, TensorDataset]:
    """Images with one bright square; the label says where it is.

    Labels (each drawn uniformly at random, then a position uniformly inside its region):

    - ``"quadrant"``: 0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right;
    - ``"row"``: the horizontal band (of ``bands`` equal bands, top = 0) the square lies in;
    - ``"column"``: the vertical band (left = 0) it lies in.

    The square (value 1.0, in every channel) lies wholly inside its region, so the label is
    unambiguous. Background: N(0, noise_std^2) per pixel and channel. ``distractors`` dimmer
    squares (value 0.5) are drawn first at uniform positions anywhere, so the net must find the
    *brightest* square, not any blob. Values are clipped to [0, 1]. For ``"row"`` the column
    is irrelevant: a channel gate pools H and W away, while Coordinate Attention's height gate
    a^h keeps the row (whether that buys accuracy is for the chapter's experiment to show).

    Shapes: images (N, channels, size, size) float32 in [0, 1]; labels (N,) int64.
    """
    if task not in POSITION_TASKS:
        raise ValueError(f"task={task!r}; choose one of {', '.join(POSITION_TASKS)}")
    n_regions = 2 if task == "quadrant" else bands
    if size % n_regions or size // n_regions < square:
        raise ValueError(f"size={size} must split into {n_regions} equal parts of at least square={square} pixels")
    gen = torch.Generator().manual_seed(seed)
    n = n_train + n_test
    labels = torch.randint(4 if task == "quadrant" else bands, (n,), generator=gen)
    part = size // n_regions  # side of a region along the axes that define the label

    def corner(start: Tensor | int, span: int) -> Tensor:
        """Top (or left) coordinate of a square lying wholly in [start, start + span)."""
        return start + torch.randint(span - square + 1, (n,), generator=gen)

    if task == "quadrant":
        top, left = corner((labels // 2) * part, part), corner((labels % 2) * part, part)
    elif task == "row":
        top, left = corner(labels * part, part), corner(0, size)
    else:
        top, left = corner(0, size), corner(labels * part, part)

    x = noise_std * torch.randn(n, channels, size, size, generator=gen)
    for _ in range(distractors):
        d_top = torch.randint(size - square + 1, (n,), generator=gen)
        d_left = torch.randint(size - square + 1, (n,), generator=gen)
        _paint(x, d_top, d_left, square, 0.5)
    _paint(x, top, left, square, 1.0)
    x = x.clamp(0.0, 1.0)
    return TensorDataset(x[:n_train], labels[:n_train]), TensorDataset(x[n_train:], labels[n_train:])


def _paint(x: Tensor, top: Tensor, left: Tensor, square: int, value: float) -> None:
    """Set a square x square patch at (top[i], left[i]) of image i to ``value`` (all channels)."""
    rows = torch.arange(x.shape[2])
    cols = torch.arange(x.shape[3])
    in_rows = (rows[None] >= top[:, None]) & (rows[None] < top[:, None] + square)  # (N, H)
    in_cols = (cols[None] >= left[:, None]) & (cols[None] < left[:, None] + square)  # (N, W)
    mask = (in_rows[:, :, None] & in_cols[:, None, :])[:, None]  # (N, 1, H, W)
    x.masked_fill_(mask, value)
