"""Argument checks and the seeded input that several files of the cost toolkit share.

Every check returns the cleaned value or raises ``ValueError`` naming the argument and the rule,
so a wrong call fails on its first line rather than deep inside PyTorch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

Shape = tuple[int, ...]

MS_PER_S = 1e3  # seconds -> milliseconds


def check_shape(shape: Sequence[int], argument: str = "shape") -> Shape:
    """Return ``shape`` as a tuple of positive ints or raise ``ValueError`` naming the argument."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{argument} must be a sequence of positive ints; got {shape!r}") from None
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in dims):
        raise ValueError(f"{argument} must be a non-empty sequence of positive ints; got {shape!r}")
    return dims


def check_threads(threads: int | None) -> int:
    """Resolve ``threads`` (None: torch's current intra-op thread count) to a positive int."""
    if threads is None:
        return torch.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads <= 0:
        raise ValueError(f"threads must be a positive int or None; got {threads!r}")
    return threads


def check_min_run_time(min_run_time: float) -> float:
    """Seconds of timed calls: a positive, finite number."""
    if not isinstance(min_run_time, (int, float)) or not min_run_time > 0 or math.isinf(min_run_time):
        raise ValueError(f"min_run_time must be a positive, finite number of seconds; got {min_run_time!r}")
    return float(min_run_time)


def check_mode(mode: str) -> str:
    """``"eval"`` (inference forward) or ``"train"`` (forward + backward)."""
    if mode not in ("eval", "train"):
        raise ValueError(f'mode must be "eval" or "train"; got {mode!r}')
    return mode


def random_input(shape: Shape, dtype: torch.dtype, requires_grad: bool = False) -> Tensor:
    """A reproducible standard-normal tensor (seed 0) that does not touch the global RNG."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=generator, dtype=dtype).requires_grad_(requires_grad)
