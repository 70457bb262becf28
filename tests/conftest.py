"""Shared helpers: modules with random (not initial) weights, so equivalences are not trivially true;
the device the device tests run on, from ``LIGHTATTN_TEST_DEVICE`` (default ``cpu``)."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

# Tests check numbers, not speed: one thread avoids two threads spinning against each other
# on tiny tensors on a busy 2-core machine (a 100x slowdown seen on CI-sized machines).
torch.set_num_threads(1)


def randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Fill every parameter and BatchNorm buffer with random values (running_var > 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) - 0.5)
        for name, b in module.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen, dtype=b.dtype) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=gen, dtype=b.dtype))
    return module


@pytest.fixture
def rng() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


DEVICE_VARIABLE = "LIGHTATTN_TEST_DEVICE"


def device_from_environment() -> torch.device:
    """The device named by ``LIGHTATTN_TEST_DEVICE`` ("cpu" when unset), checked to be usable.

    A bare "cuda" becomes "cuda:<current index>", so it compares equal to a tensor's ``.device``.
    Raises ``ValueError`` naming the variable when the value is no device or the device is absent:
    a GPU run that quietly tested the CPU would pass without testing anything it promised.
    """
    value = os.environ.get(DEVICE_VARIABLE, "cpu")
    try:
        device = torch.device(value)
    except RuntimeError as error:
        raise ValueError(f"{DEVICE_VARIABLE}={value!r} is not a torch device string: {error}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{DEVICE_VARIABLE}={value!r} names a CUDA device, but torch.cuda.is_available() is False "
                f"(torch {torch.__version__}, built with CUDA {torch.version.cuda}); "
                f"unset it to test on the CPU"
            )
        index = torch.cuda.current_device() if device.index is None else device.index
        if index >= torch.cuda.device_count():
            raise ValueError(
                f"{DEVICE_VARIABLE}={value!r} names CUDA device {index}, "
                f"but only {torch.cuda.device_count()} are visible"
            )
        return torch.device("cuda", index)
    try:
        torch.zeros(1, device=device)
    except RuntimeError as error:
        raise ValueError(f"{DEVICE_VARIABLE}={value!r} cannot hold a tensor here: {error}") from None
    return device


def pytest_configure(config: pytest.Config) -> None:
    """Refuse an unusable ``LIGHTATTN_TEST_DEVICE`` before collection, with the reason."""
    try:
        device_from_environment()
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device of ``LIGHTATTN_TEST_DEVICE``; ``pytest_configure`` already refused an unusable one."""
    return device_from_environment()
