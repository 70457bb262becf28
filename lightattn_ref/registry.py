"""One factory from a short name to an attention module, with the official defaults."""

from __future__ import annotations

from typing import Any

from torch import nn

from .attention import (
    CBAM,
    ChannelGate,
    CoordinateAttention,
    EfficientChannelAttention,
    ShuffleAttention,
    ShuffleAttentionConv,
    SqueezeExcitation,
    ULSAM,
)

#: The names ``make_attention`` accepts, in the order the book introduces them.
ATTENTION_NAMES: tuple[str, ...] = ("se", "eca", "cbam", "cbam_channel", "sa", "ulsam", "coord")


def make_attention(name: str, channels: int, **options: Any) -> nn.Module:
    """Build attention module ``name`` for ``channels`` input channels.

    Defaults are the official configurations: SE r=16 with biases; ECA k = psi(C);
    CBAM r=16 with a 7x7 spatial gate and BatchNorm; SA groups=64 with per-channel affines
    (``transform="conv"`` gives the seed blog's 1x1-conv variant); ULSAM groups=4;
    Coordinate Attention reduction=32. ``options`` go to the module's constructor.

    Every module maps (N, C, H, W) to (N, C, H, W) and has ``attention_maps(x)``.
    """
    if name == "se":
        return SqueezeExcitation(channels, **options)
    if name == "eca":
        return EfficientChannelAttention(channels, **options)
    if name == "cbam":
        return CBAM(channels, **options)
    if name == "cbam_channel":
        return ChannelGate(channels, **options)
    if name == "sa":
        transform = options.pop("transform", "affine")
        if transform not in ("affine", "conv"):
            raise ValueError(f"transform={transform!r} must be 'affine' (the paper) or 'conv' (the blog variant)")
        return (ShuffleAttention if transform == "affine" else ShuffleAttentionConv)(channels, **options)
    if name == "ulsam":
        return ULSAM(channels, **options)
    if name == "coord":
        return CoordinateAttention(channels, **options)
    raise ValueError(f"name={name!r} is not an attention module; choose one of {', '.join(ATTENTION_NAMES)}")
