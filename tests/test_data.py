"""Data: digits split, noise-channel experiment, position task, and the CIFAR-10 binary reader."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lightattn_ref.data import (
    digits,
    digits_with_noise_channels,
    load_cifar10,
    load_digits_tensors,
    position_task,
    stratified_split,
)

# --------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------


def test_digits_shapes_dtypes_range() -> None:
    train, test = digits()
    (xtr, ytr), (xte, yte) = train.tensors, test.tensors
    assert xtr.shape == (1347, 1, 8, 8) and xte.shape == (450, 1, 8, 8)
    assert xtr.dtype == torch.float32 and ytr.dtype == torch.int64
    assert xtr.min() == 0.0 and xtr.max() == 1.0  # raw pixels 0..16 divided by 16
    assert set(ytr.tolist()) == set(range(10)) == set(yte.tolist())


def test_digits_upsampled_stays_in_range() -> None:
    train, _ = digits(size=32)
    x = train.tensors[0]
    assert x.shape == (1347, 1, 32, 32)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    # 4x4 averaging gives back roughly the original (mean |pixel| is 0.31; a wrong image is far off)
    small = digits()[0].tensors[0]
    assert (F.avg_pool2d(x, 4) - small).abs().mean() < 0.1


def test_stratified_split_is_a_balanced_partition() -> None:
    _, y = load_digits_tensors()
    train, test = stratified_split(y, 0.25, seed=3)
    assert len(set(train.tolist()) & set(test.tolist())) == 0
    assert sorted(train.tolist() + test.tolist()) == list(range(len(y)))
    for c in range(10):
        n_c = int((y == c).sum())
        assert abs(int((y[test] == c).sum()) - 0.25 * n_c) <= 0.5  # rounded per class


def test_digits_split_is_seeded() -> None:
    a, b, c = digits(seed=1)[1], digits(seed=1)[1], digits(seed=2)[1]
    assert torch.equal(a.tensors[0], b.tensors[0]) and torch.equal(a.tensors[1], b.tensors[1])
    assert not torch.equal(a.tensors[0], c.tensors[0])


# --------------------------------------------------------------------------------------------
# digits with noise channels
# --------------------------------------------------------------------------------------------


def class_mean_images(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(10, C, H, W): the mean image of each class."""
    return torch.stack([x[y == c].mean(dim=0) for c in range(10)])


def test_noise_channels_shapes_and_metadata() -> None:
    data = digits_with_noise_channels(signal_channels=2, noise_channels=3, seed=0, size=12)
    x, y = data.train.tensors
    assert x.shape == (1347, 5, 12, 12) and data.test.tensors[0].shape == (450, 5, 12, 12)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert data.signal == (0, 1) and data.noise == (2, 3, 4) and data.channels == 5
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_noise_channels_carry_no_label_information_but_signal_does() -> None:
    data = digits_with_noise_channels(signal_channels=3, noise_channels=3, seed=0)
    (x, y), (x_test, y_test) = data.train.tensors, data.test.tensors
    means = class_mean_images(x, y)  # (10, 6, 8, 8)
    # per pixel, how far each class's mean is from the overall mean: ~0.022 for pure noise
    # (standard error of a mean of ~135 pixels with std 0.31), far more for the digit
    deviation = (means - x.mean(dim=0)).abs().mean(dim=(0, 2, 3))  # (6,)
    assert (deviation[list(data.noise)] < 0.035).all(), deviation
    assert (deviation[list(data.signal)] > 0.08).all(), deviation
    # a nearest-class-mean classifier on one channel: chance (0.1) on noise, good on signal
    for c in range(data.channels):
        dist = torch.cdist(x_test[:, c].flatten(1), means[:, c].flatten(1))  # (N_test, 10)
        acc = float((dist.argmin(dim=1) == y_test).float().mean())
        assert (acc > 0.7) if c in data.signal else (acc < 0.2), (c, acc)
    # a pixel-level view: signal channels follow the clean digit, noise channels do not
    clean = digits()[0].tensors[0][:, 0].flatten()
    for c in range(data.channels):
        r = float(torch.corrcoef(torch.stack([clean, x[:, c].flatten()]))[0, 1])
        assert (r > 0.9) if c in data.signal else (abs(r) < 0.02), (c, r)


def test_noise_channels_match_signal_statistics() -> None:
    data = digits_with_noise_channels(signal_channels=3, noise_channels=3, seed=0)
    x = data.train.tensors[0]
    sig, noise = x[:, list(data.signal)], x[:, list(data.noise)]
    assert abs(float(sig.mean() - noise.mean())) < 0.005
    assert abs(float(sig.std() - noise.std())) < 0.005
    assert not torch.equal(noise[:, 0], noise[:, 1])  # independent draws per channel
    assert not torch.equal(sig[:, 0], sig[:, 1])  # signal copies differ by their own small noise


def test_noise_channels_are_seeded() -> None:
    a = digits_with_noise_channels(seed=5).train.tensors[0]
    b = digits_with_noise_channels(seed=5).train.tensors[0]
    c = digits_with_noise_channels(seed=6).train.tensors[0]
    assert torch.equal(a, b) and not torch.equal(a, c)


# --------------------------------------------------------------------------------------------
# position task
# --------------------------------------------------------------------------------------------


def brightest_square(x: torch.Tensor, square: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-left corner (row, col) of the brightest square x square window of each image."""
    window_means = F.avg_pool2d(x.mean(dim=1, keepdim=True), square, stride=1)[:, 0]  # (N, h, w)
    flat = window_means.flatten(1).argmax(dim=1)
    return flat // window_means.shape[2], flat % window_means.shape[2]


@pytest.mark.parametrize("task", ["quadrant", "row", "column"])
def test_position_labels_match_where_the_square_is(task: str) -> None:
    size, square, bands = 16, 3, 4
    train, test = position_task(300, 100, task=task, size=size, channels=2, square=square, bands=bands,
                                noise_std=0.15, distractors=2, seed=1)
    x, y = train.tensors
    assert x.shape == (300, 2, size, size) and test.tensors[0].shape == (100, 2, size, size)
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    top, left = brightest_square(x, square)
    if task == "quadrant":
        expected = (top >= size // 2).long() * 2 + (left >= size // 2).long()
    elif task == "row":
        expected = top // (size // bands)
    else:
        expected = left // (size // bands)
    assert torch.equal(expected, y)
    # the whole square lies in the labelled region, not just its corner
    far = (top if task != "column" else left) + square - 1
    if task == "quadrant":
        far_label = (far >= size // 2).long() * 2 + ((left + square - 1) >= size // 2).long()
        assert torch.equal(far_label, y)
    else:
        assert torch.equal(far // (size // bands), y)
    counts = torch.bincount(y, minlength=4 if task == "quadrant" else bands)
    assert counts.min() > 40  # every label occurs


def test_position_task_row_label_ignores_the_column() -> None:
    x, y = position_task(400, 0, task="row", seed=0)[0].tensors
    _, left = brightest_square(x, 3)
    # the column is spread over the whole width for every row label
    for band in range(4):
        cols = left[y == band]
        assert cols.min() <= 2 and cols.max() >= 11


def test_position_task_is_seeded_and_checks_arguments() -> None:
    a, b, c = (position_task(50, 10, seed=s)[0].tensors[0] for s in (0, 0, 1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="task="):
        position_task(task="diagonal")
    with pytest.raises(ValueError, match="equal parts"):
        position_task(task="row", size=16, bands=8, square=3)


# --------------------------------------------------------------------------------------------
# CIFAR-10 binary reader, on tiny archives in the official layout
# --------------------------------------------------------------------------------------------

BATCHES = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]


def make_batches(records_per_file: int = 2, seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per file name: labels (n,) and images (n, 3, 32, 32) uint8, random."""
    rng = np.random.default_rng(seed)
    shape = (records_per_file, 3, 32, 32)
    return {name: (rng.integers(0, 10, records_per_file), rng.integers(0, 256, shape, dtype=np.uint8)) for name in BATCHES}


def record_bytes(labels: np.ndarray, images: np.ndarray) -> bytes:
    """The official layout: per image 1 label byte, then the red, green and blue 32x32 planes row by row."""
    out = bytearray()
    for label, image in zip(labels, images):
        out.append(int(label))
        for channel in range(3):
            for row in range(32):
                out.extend(bytes(image[channel, row].tolist()))
    return bytes(out)


def add_file(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_archive(path: Path, batches: dict, extra: list[tarfile.TarInfo | tuple[str, bytes]] = ()) -> str:
    """Write a .tar.gz in the official layout (plus ``extra`` members); return its MD5."""
    with tarfile.open(path, "w:gz") as tar:
        for name, (labels, images) in batches.items():
            add_file(tar, f"cifar-10-batches-bin/{name}", record_bytes(labels, images))
        for member in extra:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                add_file(tar, *member)
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture
def archive(tmp_path: Path) -> tuple[Path, str, dict]:
    root = tmp_path / "data"
    root.mkdir()
    batches = make_batches()
    md5 = write_archive(root / "cifar-10-binary.tar.gz", batches)
    return root, md5, batches


def test_cifar_round_trip(archive: tuple[Path, str, dict]) -> None:
    root, md5, batches = archive
    x, y = load_cifar10(root, md5=md5)
    assert x.shape == (10, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    expected_x = np.concatenate([batches[n][1] for n in BATCHES[:5]])
    expected_y = np.concatenate([batches[n][0] for n in BATCHES[:5]])
    assert np.array_equal(x.numpy(), expected_x) and np.array_equal(y.numpy(), expected_y)
    xt, yt = load_cifar10(root, train=False, md5=md5, as_float=True)
    assert xt.shape == (2, 3, 32, 32) and xt.dtype == torch.float32
    assert torch.allclose(xt, torch.from_numpy(batches["test_batch.bin"][1]).float() / 255)
    assert np.array_equal(yt.numpy(), batches["test_batch.bin"][0])
    assert (root / "cifar-10-batches-bin" / "test_batch.bin").is_file()  # extracted once, reused


def test_cifar_reads_extracted_files_without_the_archive(archive: tuple[Path, str, dict]) -> None:
    root, md5, batches = archive
    load_cifar10(root, md5=md5)
    (root / "cifar-10-binary.tar.gz").unlink()
    _, y = load_cifar10(root, train=False)
    assert np.array_equal(y.numpy(), batches["test_batch.bin"][0])


def test_cifar_checksum_mismatch_is_refused(archive: tuple[Path, str, dict]) -> None:
    root, _, _ = archive
    with pytest.raises(ValueError, match="checksum mismatch.*expected 0{32}"):
        load_cifar10(root, md5="0" * 32)
    assert not (root / "cifar-10-batches-bin").exists()  # nothing extracted from a bad file


def symlink_member() -> tarfile.TarInfo:
    info = tarfile.TarInfo("cifar-10-batches-bin/link")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


@pytest.mark.parametrize(
    "member",
    [("../evil", b"x"), ("cifar-10-batches-bin/../../evil", b"x"), ("ABSOLUTE", b"x"), "symlink"],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink"],
)
def test_cifar_rejects_unsafe_members(tmp_path: Path, member: object) -> None:
    root = tmp_path / "a" / "data"
    root.mkdir(parents=True)
    evil = tmp_path / "a" / "evil"
    if member == "symlink":
        member = symlink_member()
    elif member[0] == "ABSOLUTE":
        member = (str(evil), b"x")
    md5 = write_archive(root / "cifar-10-binary.tar.gz", make_batches(), extra=[member])
    with pytest.raises(ValueError, match="unsafe"):
        load_cifar10(root, md5=md5)
    assert not evil.exists() and not (tmp_path / "evil").exists()
    assert not (root / "cifar-10-batches-bin").exists()  # checked before anything is written


def test_cifar_missing_file_without_download_explains_what_to_do(tmp_path: Path) -> None:
    message = "CIFAR-10 not found at .*pass download=True .needs internet. or place cifar-10-binary.tar.gz there"
    with pytest.raises(FileNotFoundError, match=message):
        load_cifar10(tmp_path)


def test_cifar_download_from_file_url(tmp_path: Path) -> None:
    server, root = tmp_path / "server", tmp_path / "data"
    server.mkdir()
    batches = make_batches(seed=1)
    md5 = write_archive(server / "remote.tar.gz", batches)
    url = (server / "remote.tar.gz").as_uri()  # file://, so the download path runs offline
    x, y = load_cifar10(root, train=False, download=True, url=url, md5=md5, progress=False)
    assert np.array_equal(x.numpy(), batches["test_batch.bin"][1])
    assert np.array_equal(y.numpy(), batches["test_batch.bin"][0])
    assert hashlib.md5((root / "cifar-10-binary.tar.gz").read_bytes()).hexdigest() == md5
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-bin", "cifar-10-binary.tar.gz"]  # no temp left


def test_cifar_download_with_bad_checksum_leaves_nothing(tmp_path: Path) -> None:
    server, root = tmp_path / "server", tmp_path / "data"
    server.mkdir()
    write_archive(server / "remote.tar.gz", make_batches())
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_cifar10(root, download=True, url=(server / "remote.tar.gz").as_uri(), md5="0" * 32, progress=False)
    assert list(root.iterdir()) == []  # the temp file is gone and no half archive took the final name


def test_cifar_unreachable_url_says_so(tmp_path: Path) -> None:
    url = (tmp_path / "nowhere.tar.gz").as_uri()
    with pytest.raises(ConnectionError, match="could not download CIFAR-10.*offline"):
        load_cifar10(tmp_path / "data", download=True, url=url, progress=False)
