"""The six attention module families, one per file, and the average pooling they share."""

from .cbam import CBAM, ChannelGate, SpatialGate
from .coord import CoordinateAttention
from .eca import EfficientChannelAttention, eca_kernel_size
from .pool import mean_over
from .se import SqueezeExcitation
from .shuffle import ShuffleAttention, ShuffleAttentionConv, channel_shuffle
from .ulsam import ULSAM

__all__ = [
    "CBAM",
    "ChannelGate",
    "CoordinateAttention",
    "EfficientChannelAttention",
    "SpatialGate",
    "ShuffleAttention",
    "ShuffleAttentionConv",
    "SqueezeExcitation",
    "ULSAM",
    "channel_shuffle",
    "eca_kernel_size",
    "mean_over",
]
