"""CIFAR-10 from its official binary archive: download on request, checksum, safe extraction, no pickle."""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import torch
from torch import Tensor


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
