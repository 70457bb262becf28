"""lightattn_ref: reference implementations of lightweight attention modules for CNNs.

SE, ECA, CBAM, Shuffle Attention, ULSAM and Coordinate Attention with the official
semantics, converters for the official weights, backbones and an honest cost toolkit.
What the package knows about each module is one entry of ``lightattn_ref.specs.SPECS``.
"""

from .attention import eca_kernel_size
from .convert import from_official, load_official, to_official
from .registry import ATTENTION_NAMES, make_attention

__all__ = ["ATTENTION_NAMES", "eca_kernel_size", "from_official", "load_official", "make_attention", "to_official"]
__version__ = "0.1.0"
