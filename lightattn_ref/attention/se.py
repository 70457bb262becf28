"""Squeeze-and-Excitation (SE), Hu, Shen and Sun, CVPR 2018.

For x in R^{N x C x H x W} the book writes (chapter 02, eq. se-gate)::

    s = GAP(x)                          squeeze: s_c = mean over (h, w) of x_{c,h,w}
    a = sigma(W2 delta(W1 s + b1) + b2) excite:  W1 in R^{C/r x C}, W2 in R^{C x C/r}
    y = a ⊙ x                           scale:   broadcast over H and W

Parameters: 2 C (C // r) + C // r + C (both biases, as in the official Caffe code,
hujie-frank/SENet, whose 1x1 convolutions are these two fully connected layers). The popular
PyTorch port (moskomule/senet.pytorch ``senet/se_module.py``) drops the biases; ``bias=False``
reproduces it and ``from_official("se", ...)`` converts its weights.

SE has no separate fast path: its one speed trick, pooling with ``mean_over`` (the same numbers
as ``x.mean``, a cheaper gradient), is valid in training too and is always on. ``fast`` is
accepted, like every module's, and changes nothing here.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_input, check_positive_int, check_reduction
from .pool import mean_over


class SqueezeExcitation(nn.Module):
    """SE block: channel gate from a bottleneck MLP on globally average-pooled features.

    Args:
        channels: C, the number of input (and output) channels.
        reduction: r, the bottleneck ratio; the hidden layer has C // r units (default 16).
        bias: give both fully connected layers a bias (official: True).
        fast: accepted for the common interface; SE's textbook form is its fast form.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        bias: bool = True,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.reduction = check_reduction(channels, reduction)
        self.fast = fast
        hidden = channels // reduction
        self.fc1 = nn.Linear(channels, hidden, bias=bias, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, channels, bias=bias, device=device, dtype=dtype)

    def gate(self, x: Tensor) -> Tensor:
        """Channel gate a = sigma(W2 delta(W1 GAP(x))) of shape (N, C, 1, 1), values in (0, 1)."""
        check_input(x, self.channels)
        n, c = x.shape[:2]
        s = mean_over(x, [2, 3])  # squeeze; cheaper than AdaptiveAvgPool2d, and its gradient is a view
        a = torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))  # excite
        return a.view(n, c, 1, 1)  # one view: fewer autograd nodes than a[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)  # scale

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """The gate for plotting: ``{"channel": (N, C, 1, 1)}``."""
        return {"channel": self.gate(x)}

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, reduction={self.reduction}, bias={self.fc1.bias is not None}, "
            f"fast={self.fast}"
        )
