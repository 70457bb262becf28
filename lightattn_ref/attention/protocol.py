"""What every attention module of the package offers, as a typing Protocol.

Code that takes "any attention module" (the models, Grad-CAM plots, the cost tables) can annotate
its argument with ``AttentionModule`` and check a module with ``isinstance(m, AttentionModule)``.
The runtime check looks for the methods only, not their signatures (``typing.runtime_checkable``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class AttentionModule(Protocol):
    """An ``nn.Module`` mapping x (N, C, H, W) to a gated tensor of the same shape, with its gates.

    ``attention_maps(x)`` returns the gates the forward pass applies, named by what they gate:
    ``"channel"`` (N, C, 1, 1) or (N, C/2, 1, 1), ``"spatial"`` (N, 1 or G or C/2, H, W),
    ``"height"`` (N, C, H, 1) and ``"width"`` (N, C, 1, W).
    """

    def forward(self, x: Tensor) -> Tensor: ...

    def __call__(self, x: Tensor) -> Tensor: ...

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]: ...
