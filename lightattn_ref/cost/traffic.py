"""Memory traffic from a module's structure: minimal passes over x, and the bytes they move.

A pass reads or writes a tensor as large as x in R^{N x C x H x W} once, so p passes move
D = p * N * C * H * W * B bytes, B = itemsize (chapter 07, eq. ``eq-cost-traffic``). These
modules do a few FLOPs per byte, so their time follows these bytes rather than their FLOPs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..registry import ATTENTION_NAMES, make_attention
from ._checks import check_shape

#: Minimal full passes over x (reads + writes) of one eval-mode forward, per registry name, and
#: why. A pass moves numel(x) * itemsize bytes. "Minimal" means a perfectly fused implementation:
#: the small tensors (pooled vectors, gates, H x W maps, parameters) are ignored because they are
#: smaller than x by a factor H, W, H*W or C/G. An eager PyTorch forward moves more (it writes and
#: re-reads intermediates); this is the floor its design allows.
MINIMAL_PASSES: dict[str, tuple[int, str]] = {
    "se": (3, "1 read to average-pool x; 1 read + 1 write to gate it"),
    "eca": (3, "1 read to average-pool x; 1 read + 1 write to gate it"),
    "cbam_channel": (3, "1 read for the average and max pools together; 1 read + 1 write to gate"),
    "cbam": (
        4,
        "1 read for the channel pools; 1 read to build the max/mean-over-channels map of the "
        "channel-gated x (gating on the fly, not stored); 1 read + 1 write to apply both gates",
    ),
    "sa": (
        3,
        "1 read for each channel's mean and variance (both halves' statistics); 1 read + 1 write to gate",
    ),
    "coord": (3, "1 read for both directional average pools (over W and over H); 1 read + 1 write to gate"),
    "ulsam": (
        3,
        "1 read to build each subspace's H x W map (eval BN is an affine, the 3x3 max-pool a local "
        "stencil, the pointwise conv a sum over the subspace; the softmax acts on the small map); "
        "1 read + 1 write for map * x + x. Training-mode BN needs an extra statistics read (4)",
    ),
}

_TYPE_TO_NAME: dict[type, str] = {}


def _name_of(module: nn.Module) -> str:
    """The registry name whose default module has ``module``'s class, e.g. ``"se"``."""
    if not _TYPE_TO_NAME:
        for name in ATTENTION_NAMES:
            _TYPE_TO_NAME.setdefault(type(make_attention(name, 256)), name)  # 256 suits every default
        # SA's 1x1-conv variant ("sa_conv"): its channel-mixing spatial gate is computed per pixel
        # while gating, so it makes SA's passes
        _TYPE_TO_NAME.setdefault(type(make_attention("sa_conv", 256)), "sa")
    name = _TYPE_TO_NAME.get(type(module))
    if name is None:
        raise ValueError(
            f"name_or_module: no minimal-pass entry for a {type(module).__name__}; pass one of the "
            f"names {sorted(MINIMAL_PASSES)} or a module made by make_attention"
        )
    return name


def minimal_passes(name_or_module: str | nn.Module) -> int:
    """Minimal full passes over x of one eval-mode forward (see ``MINIMAL_PASSES`` for why)."""
    name = name_or_module if isinstance(name_or_module, str) else _name_of(name_or_module)
    if name not in MINIMAL_PASSES:
        raise ValueError(f"name_or_module={name!r} is not one of {sorted(MINIMAL_PASSES)}")
    return MINIMAL_PASSES[name][0]


def memory_traffic(
    name_or_module: str | nn.Module, shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> int:
    """Bytes one eval-mode forward must read and write at minimum: passes * numel(x) * itemsize.

    Args:
        name_or_module: a registry name (``"se"``, ``"eca"``, ``"cbam"``, ``"cbam_channel"``,
            ``"sa"``, ``"ulsam"``, ``"coord"``) or a module built by ``make_attention``.
        shape: the shape of x, e.g. (N, C, H, W).
        dtype: the element type of x (float32: 4 bytes per element).

    Returns:
        Bytes (divide by 1e6 for MB). A lower bound from the module's structure, not a
        measurement: small tensors (gates, pooled vectors, maps, parameters) are ignored.
    """
    passes = minimal_passes(name_or_module)
    dims = check_shape(shape)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype must be a torch.dtype; got {dtype!r}")
    return passes * math.prod(dims) * dtype.itemsize
