"""One factory from a short name to an attention module, with the official defaults."""

from __future__ import annotations

from typing import Any

from torch import nn

from .specs import ATTENTION_NAMES, SPECS, spec

__all__ = ["ATTENTION_NAMES", "SPECS", "make_attention"]


def make_attention(name: str, channels: int, **options: Any) -> nn.Module:
    """Build attention module ``name`` for ``channels`` input channels.

    Defaults are the official configurations: SE r=16 with biases; ECA k = psi(C);
    CBAM r=16 with a 7x7 spatial gate and BatchNorm; SA groups=64 with per-channel affines
    (``"sa_conv"`` is the seed blog's 1x1-conv variant); ULSAM groups=4; Coordinate Attention
    reduction=32. ``options`` go to the module's constructor (e.g. ``fast``, ``device``, ``dtype``).

    Every module maps (N, C, H, W) to (N, C, H, W) and has ``attention_maps(x)``. The names are
    the keys of ``lightattn_ref.specs.SPECS``: ``ATTENTION_NAMES`` and the variant ``"sa_conv"``.
    """
    return spec(name).build(channels, **options)
