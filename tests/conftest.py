"""Shared helpers: modules with random (not initial) weights, so equivalences are not trivially true."""

from __future__ import annotations

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
