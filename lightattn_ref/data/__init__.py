"""Data for the chapters' experiments: small, seeded and offline first.

- :func:`~lightattn_ref.data.digits.digits`: scikit-learn's bundled handwritten digits (1797
  images, 8x8, 10 classes) as tensors, with a seeded stratified split. Installs with ``pip``.
- :func:`~lightattn_ref.data.noise_channels.digits_with_noise_channels`: the seed blog's
  experiment (CIFAR-10 RGB plus pure-noise channels, attention at the input) at laptop scale:
  signal channels are the digit, noise channels carry no information about the label. Does
  channel attention learn to ignore them?
- :func:`~lightattn_ref.data.position.position_task`: the label is *where* a bright square is
  (quadrant, row band or column band), not what it is. Row bands separate position-aware
  attention (Coordinate Attention keeps the row coordinate in a^h) from position-blind channel
  attention (SE, ECA pool it away).
- :func:`~lightattn_ref.data.cifar.load_cifar10`: the official binary CIFAR-10 for readers with a
  GPU (Colab). Downloads only when asked, verifies the published checksum and extracts safely.

Images are float32 in [0, 1] with shape (N, C, H, W); labels are int64 with shape (N,).
Everything that draws random numbers takes a ``seed`` and uses its own ``torch.Generator``, so
results do not depend on (or change) the global random state.
"""

from .cifar import CIFAR10_CLASSES, CIFAR10_FILENAME, CIFAR10_MD5, CIFAR10_URL, load_cifar10
from .digits import digits, load_digits_tensors, stratified_split
from .noise_channels import NoiseChannelData, digits_with_noise_channels
from .position import POSITION_TASKS, position_task

__all__ = [
    "CIFAR10_CLASSES",
    "CIFAR10_FILENAME",
    "CIFAR10_MD5",
    "CIFAR10_URL",
    "NoiseChannelData",
    "digits",
    "digits_with_noise_channels",
    "load_cifar10",
    "load_digits_tensors",
    "position_task",
    "stratified_split",
]
