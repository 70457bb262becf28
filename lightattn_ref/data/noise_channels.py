"""The seed blog's noise-channel experiment at laptop scale: digits plus channels that carry no label."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import TensorDataset

from .digits import _resize, load_digits_tensors, stratified_split


@dataclass
class NoiseChannelData:
    """Result of :func:`digits_with_noise_channels`.

    Attributes:
        train, test: ``TensorDataset`` s of images (N, C, S, S) float32 in [0, 1] and labels (N,).
        signal: indices of the channels that carry the digit.
        noise: indices of the pure-noise channels (independent of the label).
    """

    train: TensorDataset
    test: TensorDataset
    signal: tuple[int, ...]
    noise: tuple[int, ...]

    @property
    def channels(self) -> int:
        """C, the total number of channels."""
        return len(self.signal) + len(self.noise)


def digits_with_noise_channels(
    signal_channels: int = 3,
    noise_channels: int = 3,
    seed: int = 0,
    *,
    signal_noise: float = 0.1,
    test_fraction: float = 0.25,
    size: int | None = None,
) -> NoiseChannelData:
    """Digits as ``signal_channels`` signal channels followed by ``noise_channels`` noise channels.

    The seed blog post on CBAM's channel gate (``seed_cbam`` in the book's references) fed
    CIFAR-10 as 3 RGB channels plus 3 noise channels to a CNN with channel attention at the
    input, and plotted the learned gates. Here:

    - signal channel k = clip(digit + signal_noise * eps_k, 0, 1) with eps_k ~ N(0, 1) drawn
      independently per channel, pixel and sample: correlated like R, G and B, never identical;
    - noise channel = i.i.d. pixels drawn from the pooled pixel values of the signal channels
      (all samples, all classes), so they have the same mean, std and range as the signal (a
      net cannot spot them by their first- or second-order statistics), but carry no
      information about the label.

    Noise is fresh per sample and per channel, fixed by ``seed`` (which also seeds the split).
    Signal channels come first: ``signal == (0, ..., signal_channels - 1)``.

    Shapes: images (N, signal_channels + noise_channels, S, S), S = size or 8; labels (N,).
    """
    if signal_channels < 1 or noise_channels < 0:
        raise ValueError(f"need signal_channels >= 1 and noise_channels >= 0, got {signal_channels}, {noise_channels}")
    x, y = load_digits_tensors()
    train_idx, test_idx = stratified_split(y, test_fraction, seed)
    x = _resize(x, size)  # upsample first, so the noise is per pixel at the final size
    gen = torch.Generator().manual_seed(seed + 1)  # +1: not the split's stream
    n, _, h, w = x.shape
    sig = (x + signal_noise * torch.randn(n, signal_channels, h, w, generator=gen)).clamp(0.0, 1.0)
    pool = sig.flatten()  # the signal channels' pixel distribution, pooled over all classes
    noise = pool[torch.randint(len(pool), (n, noise_channels, h, w), generator=gen)]
    images = torch.cat([sig, noise], dim=1)
    return NoiseChannelData(
        train=TensorDataset(images[train_idx], y[train_idx]),
        test=TensorDataset(images[test_idx], y[test_idx]),
        signal=tuple(range(signal_channels)),
        noise=tuple(range(signal_channels, signal_channels + noise_channels)),
    )
