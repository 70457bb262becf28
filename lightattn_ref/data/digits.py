"""scikit-learn's bundled handwritten digits (1797 images, 8x8, 10 classes) as tensors, split by class."""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset


def load_digits_tensors() -> tuple[Tensor, Tensor]:
    """All 1797 digits: images (1797, 1, 8, 8) float32 in [0, 1] and labels (1797,) int64.

    The raw pixels are integers 0..16 (4x4 blocks of a 32x32 bitmap, counted), so /16 maps
    them exactly onto [0, 1]. Needs scikit-learn (the ``book`` extra), imported here only.
    """
    x, y = _digits_cached()
    return x.clone(), y.clone()  # callers may edit their copy; the cache stays clean


@functools.lru_cache(maxsize=1)
def _digits_cached() -> tuple[Tensor, Tensor]:
    # Importing scikit-learn takes seconds; chapters and tests call this many times.
    try:
        from sklearn.datasets import load_digits
    except ImportError as err:  # scikit-learn is an optional dependency of the package
        raise ImportError("the digits data needs scikit-learn: pip install scikit-learn") from err
    bunch = load_digits()
    x = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.as_tensor(bunch.target, dtype=torch.int64)
    return x, y


def stratified_split(labels: Tensor, test_fraction: float = 0.25, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Indices (train, test) with each class split in the same proportion.

    Every class c with n_c samples puts round(test_fraction * n_c) of them in the test set,
    chosen by a seeded permutation; both index tensors are sorted. Same seed, same split.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction={test_fraction!r} must be in (0, 1)")
    gen = torch.Generator().manual_seed(seed)
    train, test = [], []
    for c in torch.unique(labels):  # sorted, so the generator is consumed in a fixed order
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_test = int(round(test_fraction * len(idx)))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def _resize(x: Tensor, size: int | None) -> Tensor:
    """Bilinear upsampling (N, C, h, w) -> (N, C, size, size); bilinear stays inside [0, 1]."""
    if size is None or size == x.shape[-1]:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def digits(test_fraction: float = 0.25, seed: int = 0, size: int | None = None) -> tuple[TensorDataset, TensorDataset]:
    """The digits as (train, test) ``TensorDataset`` s of (image, label).

    Args:
        test_fraction: share of each class that goes to the test set (default 1/4: 1347 / 450).
        seed: seeds the stratified split.
        size: upsample the 8x8 images to (size, size), for models that downsample (a ResNet
            stem divides by 4, so 8x8 would leave 2x2 maps). ``None`` keeps 8x8.

    Shapes: images (N, 1, S, S) float32 in [0, 1] with S = size or 8; labels (N,) int64.
    """
    x, y = load_digits_tensors()
    train_idx, test_idx = stratified_split(y, test_fraction, seed)
    x = _resize(x, size)
    return TensorDataset(x[train_idx], y[train_idx]), TensorDataset(x[test_idx], y[test_idx])
