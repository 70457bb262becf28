"""CBAM's inference fast path: the two max pools by ``amax`` and the spatial gate applied in place.

``CBAM``, ``ChannelGate`` and ``SpatialGate`` take it when ``use_fast_path`` allows (their ``fast``
switch on, no autograd, no tracer or compiler). Both tricks need autograd off, not eval mode: the
spatial BatchNorm is applied by the module itself, so training mode under ``no_grad`` may take them.
"""

from __future__ import annotations

from torch import Tensor


def max_over_map(x: Tensor) -> Tensor:
    """GMP(x) of eq. cbam-channel, (N, C, H, W) -> (N, C). ``amax`` is the fastest maximum at
    inference; with autograd on, ``max`` with indices is, because its backward writes one index."""
    return x.amax(dim=(2, 3))


def max_over_channels(x: Tensor) -> Tensor:
    """max_c x of eq. cbam-spatial, (N, C, H, W) -> (N, 1, H, W), by ``amax`` as ``max_over_map``."""
    return x.amax(dim=1, keepdim=True)


def scale_in_place(x1: Tensor, a_sp: Tensor) -> Tensor:
    """y = a^sp ⊙ x' written over x' (N, C, H, W), which must be a fresh tensor nobody else holds:
    CBAM's channel-gated x' is, so inference saves the allocation of a second full-size tensor."""
    return x1.mul_(a_sp)
