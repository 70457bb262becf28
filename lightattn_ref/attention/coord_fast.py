"""Coordinate Attention's inference fast path: eval-mode BatchNorm folded into conv1, gates in place.

``CoordinateAttention`` takes it when ``use_fast_path`` allows with its ``training`` flag: the path
folds eval-mode BatchNorm (running statistics) into conv1, so it needs eval mode as well as autograd
off and no tracer or compiler. ``gate_in_place`` needs autograd off only.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._batchnorm import eval_batchnorm_affine
from .pool import mean_over


def fold_conv_batchnorm(
    weight: Tensor,
    bias: Optional[Tensor],
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    bn_weight: Optional[Tensor],
    bn_bias: Optional[Tensor],
    eps: float,
) -> tuple[Tensor, Tensor]:
    """A 1x1 conv (weight (M, C, 1, 1), bias (M,)) followed by eval-mode BatchNorm, as one
    (M, C) weight and (M,) bias: BN(W z + b) = (scale W) z + (scale b + shift)."""
    scale, shift = eval_batchnorm_affine(running_mean, running_var, bn_weight, bn_bias, eps)
    assert bias is not None  # narrows the Optional type for TorchScript
    return weight.flatten(1) * scale[:, None], bias * scale + shift


def _strip_gate(weight: Tensor, bias: Optional[Tensor], f: Tensor) -> Tensor:
    """sigma(W f + b) for a 1x1 conv's (C, mip, 1, 1) weight and a strip f (N, mip, L): (N, C, L)."""
    assert bias is not None
    return torch.baddbmm(bias[:, None], weight.flatten(1).expand(f.shape[0], -1, -1), f).sigmoid_()


def gates(
    x: Tensor,
    w1: Tensor,
    b1: Tensor,
    weight_h: Tensor,
    bias_h: Optional[Tensor],
    weight_w: Tensor,
    bias_w: Optional[Tensor],
) -> tuple[Tensor, Tensor]:
    """a^h (N, C, H, 1) and a^w (N, C, 1, W) of eq. ca-gates, both contiguous.

    As in the textbook form, the strips stay in (N, channels, H + W) layout and every 1x1
    convolution is one batched matrix product with its bias (``baddbmm``); here bn1 is folded
    into conv1 and the sigmoids run in place.

    Args:
        x: (N, C, H, W). w1 (mip, C), b1 (mip,): conv1 with bn1 folded (``fold_conv_batchnorm``).
        weight_h, bias_h, weight_w, bias_w: conv_h's and conv_w's weights (C, mip, 1, 1) and biases (C,).
    """
    n, _, h, _ = x.shape
    z = torch.cat([mean_over(x, [3]), mean_over(x, [2])], dim=2)  # (N, C, H + W), eq. ca-pool
    f = F.hardswish(torch.baddbmm(b1[:, None], w1.expand(n, -1, -1), z), inplace=True)  # (N, mip, H + W)
    a_h = _strip_gate(weight_h, bias_h, f[:, :, :h])  # (N, C, H)
    a_w = _strip_gate(weight_w, bias_w, f[:, :, h:])  # (N, C, W)
    return a_h.unsqueeze(3), a_w.unsqueeze(2)


def gate_in_place(out: Tensor, a_h: Tensor) -> Tensor:
    """out * a^h written over ``out``, a fresh (N, C, H, W) product nobody else holds."""
    return out.mul_(a_h)
