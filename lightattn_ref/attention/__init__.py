"""The six attention module families, one per file, their fast paths beside them, and what they share.

Each ``<module>.py`` is the textbook form; ``<module>_fast.py`` holds its inference fast path,
taken when the module's ``fast`` switch and ``_checks.use_fast_path`` allow. ``AttentionModule``
is the interface every module class meets.
"""

from .cbam import CBAM, ChannelGate, SpatialGate
from .coord import CoordinateAttention
from .eca import EfficientChannelAttention, eca_kernel_size
from .pool import mean_over
from .protocol import AttentionModule
from .se import SqueezeExcitation
from .shuffle import ShuffleAttention, ShuffleAttentionConv, channel_shuffle
from .ulsam import ULSAM

__all__ = [
    "AttentionModule",
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
