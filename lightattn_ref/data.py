"""Data for the chapters' experiments: small, seeded and offline first.

- :func:`digits`: scikit-learn's bundled handwritten digits (1797 images, 8x8, 10 classes) as
  tensors, with a seeded stratified split. Installs with ``pip``; no download.
- :func:`digits_with_noise_channels`: the seed blog's experiment (CIFAR-10 RGB plus pure-noise
  channels, attention at the input) at laptop scale: signal channels are the digit, noise
  channels carry no information about the label. Does channel attention learn to ignore them?
- :func:`position_task`: the label is *where* a bright square is (quadrant, row band or column
  band), not what it is. Row bands separate position-aware attention (Coordinate Attention keeps
  the row coordinate in a^h) from position-blind channel attention (SE, ECA pool it away).
- :func:`load_cifar10`: the official binary CIFAR-10 for readers with a GPU (Colab). Downloads
  only when asked, verifies the published checksum and extracts safely.

Images are float32 in [0, 1] with shape (N, C, H, W); labels are int64 with shape (N,).
Everything that draws random numbers takes a ``seed`` and uses its own ``torch.Generator``, so
results do not depend on (or change) the global random state.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import TensorDataset

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

# --------------------------------------------------------------------------------------------
# Handwritten digits (scikit-learn)
# --------------------------------------------------------------------------------------------


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

    The seed blog fed CIFAR-10 as 3 RGB channels plus 3 noise channels to a CNN with channel
    attention at the input, and plotted the learned gates (FACTS.md, seed 004). Here:

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


# --------------------------------------------------------------------------------------------
# A synthetic task where the label is a position
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# CIFAR-10, official binary version
# --------------------------------------------------------------------------------------------

#: Address of the binary archive, as published on the dataset page
#: ``https://www.cs.toronto.edu/~kriz/cifar.html`` ("CIFAR-10 binary version (suitable for C programs)", 162 MB).
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#: MD5 of ``cifar-10-binary.tar.gz`` as listed on ``https://www.cs.toronto.edu/~kriz/cifar.html``
CIFAR10_MD5 = "c32a1d4ab5d03f1284b67883e8d87530"
CIFAR10_FILENAME = "cifar-10-binary.tar.gz"
#: Class names in label order (label 0 is "airplane").
CIFAR10_CLASSES: tuple[str, ...] = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)
_CIFAR_DIR = "cifar-10-batches-bin"
_CIFAR_TRAIN = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
_CIFAR_TEST = ("test_batch.bin",)
_RECORD = 1 + 3 * 32 * 32  # one label byte, then 1024 red, 1024 green, 1024 blue bytes (row-major)


def load_cifar10(
    root: str | os.PathLike[str],
    *,
    train: bool = True,
    download: bool = False,
    as_float: bool = False,
    url: str = CIFAR10_URL,
    md5: str = CIFAR10_MD5,
    progress: bool = True,
) -> tuple[Tensor, Tensor]:
    """CIFAR-10 from its official binary archive: images (N, 3, 32, 32) and labels (N,) int64.

    Looks for ``root/cifar-10-batches-bin/`` (extracted earlier), else for
    ``root/cifar-10-binary.tar.gz``, which it checks against ``md5`` and extracts safely.
    With ``download=True`` and no archive, fetches ``url`` first (about 162 MB). No pickle:
    the binary format is plain bytes, one record per image (1 label byte + 3072 pixel bytes).

    Args:
        root: the folder holding the archive (and, after the first call, the extracted files).
        train: the 50 000 training images (data_batch_1..5) or the 10 000 test images.
        download: allow a download when the archive is missing. Off by default: nothing touches
            the network unless you ask.
        as_float: float32 in [0, 1] instead of uint8 in [0, 255].
        url, md5: where to download from and the checksum to expect; the defaults are the
            official ones, and tests pass a tiny archive with its own checksum.
        progress: show a progress bar while downloading.

    Returns: images (N, 3, 32, 32) uint8 (or float32), labels (N,) int64 in 0..9 indexing
    :data:`CIFAR10_CLASSES`. N = 50 000 (train) or 10 000 (test) for the official archive.
    """
    root = Path(root)
    names = _CIFAR_TRAIN if train else _CIFAR_TEST
    folder = root / _CIFAR_DIR
    if not all((folder / name).is_file() for name in names):
        archive = root / CIFAR10_FILENAME
        if not archive.is_file():
            if not download:
                raise FileNotFoundError(
                    f"CIFAR-10 not found at {archive}; pass download=True (needs internet) "
                    f"or place {CIFAR10_FILENAME} there (from {url})"
                )
            _download(url, archive, md5, progress)
        _check_md5(archive, md5)
        _safe_extract(archive, root)
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"{', '.join(missing)} not in {folder}; is this the binary CIFAR-10 archive?")
    images, labels = zip(*(_read_cifar_batch(folder / name) for name in names))
    x, y = torch.cat(images), torch.cat(labels)
    return (x.float() / 255.0 if as_float else x), y


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # an integrity check against a published value, not security
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_md5(path: Path, md5: str) -> None:
    actual = _md5(path)
    if actual != md5.lower():
        raise ValueError(
            f"checksum mismatch for {path}: MD5 is {actual}, expected {md5}; the file is incomplete "
            f"or not the official archive. Delete it and download again (download=True)."
        )


def _download(url: str, dest: Path, md5: str, progress: bool) -> None:
    """Fetch ``url`` into a temp file next to ``dest``, check it, then rename it into place.

    The rename is atomic, so an interrupted download never leaves a half file under the final
    name (which a later call would take for the archive).
    """
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=60)  # noqa: S310 - http(s) or file:// by design
            except (urllib.error.URLError, OSError) as err:
                raise ConnectionError(
                    f"could not download CIFAR-10 from {url} ({err}). If you are offline, place "
                    f"{dest.name} at {dest} by hand."
                ) from err
            with response, tqdm(
                total=int(response.headers.get("Content-Length") or 0) or None,
                unit="B", unit_scale=True, desc=dest.name, disable=not progress,
            ) as bar:
                for chunk in iter(lambda: response.read(1 << 20), b""):
                    out.write(chunk)
                    bar.update(len(chunk))
        _check_md5(tmp, md5)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _check_member(member: tarfile.TarInfo, dest: Path) -> None:
    """Refuse anything that could write outside ``dest``: absolute names, '..', links, devices."""
    name = member.name
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or Path(name).is_absolute() or (parts and ":" in parts[0]) or ".." in parts:
        raise ValueError(f"unsafe path in archive: {name!r}")
    if not (member.isfile() or member.isdir()):
        raise ValueError(f"unsafe member in archive: {name!r} is a link or special file")
    target = (dest / name).resolve()
    if not target.is_relative_to(dest.resolve()):
        raise ValueError(f"unsafe path in archive: {name!r} leaves {dest}")


def _safe_extract(archive: Path, dest: Path) -> None:
    """Extract ``archive`` into ``dest`` after checking every member; nothing is written if one fails."""
    with tarfile.open(archive, "r:gz") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, dest)
        if hasattr(tarfile, "data_filter"):  # Python >= 3.12 and patched 3.8-3.11: a second line of defence
            tar.extractall(dest, members=members, filter="data")
        else:
            tar.extractall(dest, members=members)  # noqa: S202 - every member checked above


def _read_cifar_batch(path: Path) -> tuple[Tensor, Tensor]:
    """One .bin file: records of 1 label byte + 3072 pixel bytes -> (n, 3, 32, 32) uint8, (n,) int64."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % _RECORD:
        raise ValueError(f"{path} has {raw.size} bytes, not a multiple of the {_RECORD}-byte record")
    records = raw.reshape(-1, _RECORD)
    labels = torch.from_numpy(records[:, 0].astype(np.int64))
    if labels.numel() and int(labels.max()) > 9:
        raise ValueError(f"{path} has a label {int(labels.max())} > 9; not a CIFAR-10 batch file")
    images = torch.from_numpy(records[:, 1:].reshape(-1, 3, 32, 32).copy())
    return images, labels
