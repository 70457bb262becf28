"""Coordinate Attention (CA), Hou, Zhou and Feng, CVPR 2021.

CA pools along each spatial axis separately, so its gates keep the other coordinate
(chapter 06)::

    z^h = mean over w of x  in R^{C x H},   z^w = mean over h of x  in R^{C x W}   (eq. ca-pool)
    f   = h_swish(BN(W_1 [z^h, z^w] + b_1))    shared 1x1 conv C -> mip on the joined strips
    a^h = sigma(W_h f^h + b_h),  a^w = sigma(W_w f^w + b_w)                        (eq. ca-gates)
    y   = x ⊙ a^h ⊙ a^w                                                          (eq. ca-out)

with mip = max(8, C // r), r = 32. The product a^h_{c,i} a^w_{c,j} is a separable, rank-one
gate per channel. Parameters: 3 C mip + 3 mip + 2C.

The official code pools with AdaptiveAvgPool2d((None, 1)) and ((1, None)); a mean over one
axis is the same number, faster, and exports to ONNX with old exporters too. h_swish is
x * ReLU6(x + 3) / 6, which is ``F.hardswish``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_input, check_positive_int


class CoordinateAttention(nn.Module):
    """Coordinate Attention block.

    Args:
        channels: C.
        reduction: r; the shared transform has mip = max(8, C // r) channels (default 32).

    Shape: x (N, C, H, W) -> (N, C, H, W); H and W may differ.
    """

    def __init__(self, channels: int, *, reduction: int = 32) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.reduction = check_positive_int("reduction", reduction)
        self.mip = mip = max(8, channels // reduction)
        self.conv1 = nn.Conv2d(channels, mip, 1)
        self.bn1 = nn.BatchNorm2d(mip)
        self.conv_h = nn.Conv2d(mip, channels, 1)
        self.conv_w = nn.Conv2d(mip, channels, 1)

    def gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """a^h of shape (N, C, H, 1) and a^w of shape (N, C, 1, W), eq. ca-gates, both contiguous.

        Contiguous gates keep the broadcast products over x in x's memory order. Inference runs
        each 1x1 convolution on the thin pooled strips as one matrix product (several times
        faster than Conv2d there); with autograd on, Conv2d's backward is the faster one.
        """
        check_input(x, self.channels)
        if torch.is_grad_enabled():
            return self._gates_conv(x)
        return self._gates_matmul(x)

    def _gates_conv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.shape[2]
        z_h = x.mean(dim=3, keepdim=True)  # (N, C, H, 1), eq. ca-pool
        z_w = x.mean(dim=2, keepdim=True).transpose(2, 3)  # (N, C, W, 1)
        f = F.hardswish(self.bn1(self.conv1(torch.cat([z_h, z_w], dim=2))))
        # transposing the small strip before conv_w makes a^w come out contiguous
        return torch.sigmoid(self.conv_h(f[:, :, :h])), torch.sigmoid(self.conv_w(f[:, :, h:].transpose(2, 3)))

    def _gates_matmul(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.shape[2]
        z = torch.cat([x.mean(dim=3), x.mean(dim=2)], dim=2).transpose(1, 2)  # (N, H + W, C)
        f = F.linear(z, self.conv1.weight.flatten(1), self.conv1.bias)  # (N, H + W, mip)
        f = F.hardswish(self.bn1(f.transpose(1, 2).unsqueeze(3))).squeeze(3).transpose(1, 2)
        a_h = torch.sigmoid(F.linear(f[:, :h], self.conv_h.weight.flatten(1), self.conv_h.bias))  # (N, H, C)
        a_w = torch.sigmoid(F.linear(f[:, h:], self.conv_w.weight.flatten(1), self.conv_w.bias))  # (N, W, C)
        return a_h.transpose(1, 2).unsqueeze(3).contiguous(), a_w.transpose(1, 2).unsqueeze(2).contiguous()

    def forward(self, x: Tensor) -> Tensor:
        a_h, a_w = self.gates(x)
        out = x * a_w  # eq. ca-out, in the official order of the products
        return out * a_h if torch.is_grad_enabled() else out.mul_(a_h)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"height": (N, C, H, 1), "width": (N, C, 1, W)}``."""
        a_h, a_w = self.gates(x)
        return {"height": a_h, "width": a_w}
