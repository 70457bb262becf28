"""Coordinate Attention (CA), Hou, Zhou and Feng, CVPR 2021.

CA pools along each spatial axis separately, so its gates keep the other coordinate
(chapter 06)::

    s^h = mean over w of x  in R^{C x H},   s^w = mean over h of x  in R^{C x W}   (eq. ca-pool)
    f   = h_swish(BN(W_1 [s^h, s^w] + b_1))    shared 1x1 conv C -> mip on the joined strips
    a^h = sigma(W_h f^h + b_h),  a^w = sigma(W_w f^w + b_w)                        (eq. ca-gates)
    y   = x ⊙ a^h ⊙ a^w                                                          (eq. ca-out)

with mip = max(8, C // r), r = 32. The product a^h_{c,i} a^w_{c,j} is a separable, rank-one
gate per channel. Parameters: 3 C mip + 3 mip + 2C.

The official code pools with AdaptiveAvgPool2d((None, 1)) and ((1, None)); a mean over one
axis is the same number, faster, and exports to ONNX with old exporters too. h_swish is
z * ReLU6(z + 3) / 6, which is ``F.hardswish``.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._batchnorm import eval_batchnorm_affine
from ._checks import check_input, check_positive_int
from .pool import mean_over


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
        each 1x1 convolution on the thin pooled strips as one batched matrix product (several
        times faster than Conv2d there); with autograd on, Conv2d's backward is the faster one.
        """
        check_input(x, self.channels)
        if self.training or torch.is_grad_enabled():
            return self._gates_conv(x)  # training-mode BN needs the batch statistics
        return self._gates_matmul(x)

    def _gates_conv(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = x.shape[2]
        z_h = mean_over(x, [3], keepdim=True)  # (N, C, H, 1), eq. ca-pool
        z_w = mean_over(x, [2], keepdim=True).transpose(2, 3)  # (N, C, W, 1)
        f = F.hardswish(self.bn1(self.conv1(torch.cat([z_h, z_w], dim=2))))
        # transposing the small strip before conv_w makes a^w come out contiguous
        return torch.sigmoid(self.conv_h(f[:, :, :h])), torch.sigmoid(self.conv_w(f[:, :, h:].transpose(2, 3)))

    def _gates_matmul(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Inference: the strips stay in (N, channels, H + W) layout, so every 1x1 convolution is
        one batched matrix product with its bias (``baddbmm``), BN folds into conv1, and the
        gates come out contiguous with no transposes or copies."""
        n, c, h, w = x.shape
        w1, b1 = self._folded_conv1()
        z = torch.cat([mean_over(x, [3]), mean_over(x, [2])], dim=2)  # (N, C, H + W), eq. ca-pool
        f = F.hardswish(torch.baddbmm(b1[:, None], w1.expand(n, -1, -1), z), inplace=True)  # (N, mip, H + W)
        a_h = self._strip_gate(self.conv_h.weight, self.conv_h.bias, f[:, :, :h])  # (N, C, H)
        a_w = self._strip_gate(self.conv_w.weight, self.conv_w.bias, f[:, :, h:])  # (N, C, W)
        return a_h.unsqueeze(3), a_w.unsqueeze(2)

    def _folded_conv1(self) -> tuple[Tensor, Tensor]:
        """conv1 followed by eval-mode bn1 as one (mip, C) weight and (mip,) bias."""
        bn = self.bn1
        scale, shift = eval_batchnorm_affine(bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps)
        bias = self.conv1.bias
        assert bias is not None  # narrows the Optional type for TorchScript
        return self.conv1.weight.flatten(1) * scale[:, None], bias * scale + shift

    def _strip_gate(self, weight: Tensor, bias: Optional[Tensor], f: Tensor) -> Tensor:
        """sigma(W f + b) for a 1x1 conv's (C, mip, 1, 1) weight and a strip f (N, mip, L): (N, C, L)."""
        assert bias is not None
        return torch.baddbmm(bias[:, None], weight.flatten(1).expand(f.shape[0], -1, -1), f).sigmoid_()

    def forward(self, x: Tensor) -> Tensor:
        a_h, a_w = self.gates(x)
        out = x * a_w  # eq. ca-out, in the official order of the products
        return out * a_h if torch.is_grad_enabled() else out.mul_(a_h)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"height": (N, C, H, 1), "width": (N, C, 1, W)}``."""
        a_h, a_w = self.gates(x)
        return {"height": a_h, "width": a_w}
