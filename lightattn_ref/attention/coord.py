"""Coordinate Attention (CA), Hou, Zhou and Feng, CVPR 2021.

CA pools along each spatial axis separately, so its gates keep the other coordinate
(chapter 06)::

    s^h = mean over w of x  in R^{C x H},   s^w = mean over h of x  in R^{C x W}   (eq. ca-pool)
    f   = h_swish(BN(W_1 [s^h, s^w] + b_1))    shared 1x1 conv C -> mip on the joined strips
    a^h = sigma(W_h f^h + b_h),  a^w = sigma(W_w f^w + b_w)                        (eq. ca-gates)
    y   = x ⊙ a^h ⊙ a^w                                                          (eq. ca-out)

with mip = max(8, C // r), r = 32. The product a^h_{c,i} a^w_{c,j} is a separable, rank-one
gate per channel. Parameters: 3 C mip + 3 mip + 2C.

The official code (houqb/CoordAttention ``coordatt.py``) pools with AdaptiveAvgPool2d((None, 1))
and ((1, None)); a mean over one axis is the same number, faster, and exports to ONNX with old
exporters too. h_swish is z * ReLU6(z + 3) / 6, which is ``F.hardswish``.

This file is the textbook form; its 1x1 convolutions on the strips are written as the matrix
products they are (``_pointwise``). With ``fast=True`` (default) eager inference in eval mode
folds BN into conv1 and applies the last gate in place (``coord_fast.py``; see
``use_fast_path``). Under ``torch.compile`` the textbook form is compiled: with no convolution
in its graph, it ran faster than the eager fast path (appendix "making the modules fast").
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import coord_fast
from ._checks import check_input, check_positive_int, check_reduction, use_fast_path
from .pool import mean_over

#: The smallest hidden width of Coordinate Attention, as in mip = max(MIN_MIP, C // r).
MIN_MIP = 8


def _pointwise(weight: Tensor, bias: Optional[Tensor], z: Tensor) -> Tensor:
    """A 1x1 convolution (weight (C_out, C_in, 1, 1), bias (C_out,)) on strips z (N, C_in, L), as the
    matrix product it is: W z + b, (N, C_out, L), contiguous.

    Computed as z^T W^T, so that the N strips fold into one matrix product with no copy of W per
    image (``baddbmm`` on W expanded over N copied it: 4 MB per call at C = 2048). It is several
    times faster than Conv2d on thin strips, in training too, and it keeps ``torch.compile`` from
    switching the graph to channels-last: on a CPU, Inductor does that for every graph with a
    convolution, and x's reductions then ran about 3 times slower (a training step at
    (8, 256, 56, 56)).
    """
    assert bias is not None  # narrows the Optional type for TorchScript
    return (torch.matmul(z.transpose(1, 2), weight.flatten(1).t()) + bias).transpose(1, 2).contiguous()


class CoordinateAttention(nn.Module):
    """Coordinate Attention block.

    Args:
        channels: C.
        reduction: r; the shared transform has mip = max(8, C // r) channels (default 32).
        fast: take the inference fast path of ``coord_fast.py`` where ``use_fast_path`` allows
            (the same gates; False always runs the textbook form below). Settable later: ``m.fast``.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W); H and W may differ.
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 32,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.reduction = check_reduction(channels, reduction, min_hidden=MIN_MIP)
        self.mip = mip = max(MIN_MIP, channels // reduction)
        self.fast = fast
        factory = {"device": device, "dtype": dtype}
        self.conv1 = nn.Conv2d(channels, mip, 1, **factory)
        self.bn1 = nn.BatchNorm2d(mip, **factory)
        self.conv_h = nn.Conv2d(mip, channels, 1, **factory)
        self.conv_w = nn.Conv2d(mip, channels, 1, **factory)

    def gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """a^h of shape (N, C, H, 1) and a^w of shape (N, C, 1, W), eq. ca-gates, both contiguous.

        Contiguous gates keep the broadcast products over x in x's memory order.
        """
        check_input(x, self.channels)
        if use_fast_path(self.fast, self.training, x):  # folds bn1's running statistics: eval mode only
            return self._fast_gates(x)
        n, c, h, w = x.shape
        z = torch.cat([mean_over(x, [3]), mean_over(x, [2])], dim=2)  # (N, C, H + W): both strips, eq. ca-pool
        conv1, conv_h, conv_w = self.conv1, self.conv_h, self.conv_w
        f = F.hardswish(self.bn1(_pointwise(conv1.weight, conv1.bias, z).unsqueeze(3)).squeeze(3))  # shared
        a_h = torch.sigmoid(_pointwise(conv_h.weight, conv_h.bias, f[:, :, :h]))  # (N, C, H)
        a_w = torch.sigmoid(_pointwise(conv_w.weight, conv_w.bias, f[:, :, h:]))  # (N, C, W)
        return a_h.view(n, c, h, 1), a_w.view(n, c, 1, w)

    def _fast_gates(self, x: Tensor) -> tuple[Tensor, Tensor]:
        bn = self.bn1
        w1, b1 = coord_fast.fold_conv_batchnorm(
            self.conv1.weight, self.conv1.bias, bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps
        )
        conv_h, conv_w = self.conv_h, self.conv_w
        return coord_fast.gates(x, w1, b1, conv_h.weight, conv_h.bias, conv_w.weight, conv_w.bias)

    def forward(self, x: Tensor) -> Tensor:
        a_h, a_w = self.gates(x)
        out = x * a_w  # eq. ca-out, in the official order of the products
        return coord_fast.gate_in_place(out, a_h) if use_fast_path(self.fast, False, x) else out * a_h

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"height": (N, C, H, 1), "width": (N, C, 1, W)}``."""
        a_h, a_w = self.gates(x)
        return {"height": a_h, "width": a_w}

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, mip={self.mip}, fast={self.fast}"
