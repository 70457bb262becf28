"""Efficient Channel Attention (ECA), Wang et al., CVPR 2020.

ECA keeps SE's squeeze and scale but replaces the bottleneck MLP by one 1-D convolution of
kernel size k that slides along the channel axis of the pooled vector (chapter 02,
eq. eca-gate)::

    s = GAP(x) in R^C
    a = sigma(conv1d_k(s))     zero padding (k - 1) / 2 at both ends, no bias, one shared w in R^k
    y = a ⊙ x

The paper chooses k from C (eq. eca-psi)::

    k = psi(C) = | log2(C) / gamma + b / gamma |_odd,   gamma = 2, b = 1

which gives k = 3, 5, 5, 5, 5, 7 for C = 64, 128, ..., 2048. The official layer
(BangguWu/ECANet ``models/eca_module.py``) never computes psi: its default is k = 3, and the
released ResNet-50 weights are built with k = 3, 5, 5, 7 per stage.
Here ``kernel_size=None`` (default) uses psi(C); pass ``kernel_size`` to reproduce the
official fixed k. Parameters: k.

This file is the textbook form. With ``fast=True`` (default) eager inference computes the same
gate by the unfolding trick of ``eca_fast.py`` (see ``use_fast_path`` in ``_checks.py``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from . import eca_fast, ops
from ._checks import check_input, check_odd_kernel_size, check_positive_int, use_compiled_op, use_fast_path
from .pool import mean_over


def eca_kernel_size(channels: int, gamma: float = 2, b: float = 1) -> int:
    """psi(C): the nearest odd integer to log2(C)/gamma + b/gamma, rounding towards the next odd.

    Computed as in the paper's code: ``t = int(abs((log2(C) + b) / gamma))``; k = t if t is odd, else t + 1.
    """
    check_positive_int("channels", channels)
    if gamma <= 0:
        raise ValueError(f"gamma={gamma} must be positive")
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1


def check_kernel_size(kernel_size: int) -> int:
    """An ECA kernel must be a positive odd int: an even k shifts the output to length C - 1."""
    why = "with padding (k - 1) // 2 an even kernel returns C - 1 values instead of C"
    return check_odd_kernel_size("kernel_size", kernel_size, why)


class EfficientChannelAttention(nn.Module):
    """ECA block: channel gate from a k-tap 1-D convolution across the pooled channels.

    Args:
        channels: C, the number of input (and output) channels.
        kernel_size: k, odd; ``None`` (default) uses the paper's psi(C) (see ``eca_kernel_size``).
        gamma, b: the constants of psi (paper: 2 and 1); ignored when ``kernel_size`` is given.
        fast: take the inference fast path of ``eca_fast.py`` where ``use_fast_path`` allows
            (the same gate; False always runs the textbook form below). Settable later: ``m.fast``.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(
        self,
        channels: int,
        *,
        kernel_size: int | None = None,
        gamma: float = 2,
        b: float = 1,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        if kernel_size is None:
            kernel_size = eca_kernel_size(channels, gamma, b)
        self.kernel_size = check_kernel_size(kernel_size)
        self.fast = fast
        padding = (kernel_size - 1) // 2
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=padding, bias=False, device=device, dtype=dtype)

    def gate(self, x: Tensor) -> Tensor:
        """Channel gate a = sigma(conv1d_k(GAP(x))) of shape (N, C, 1, 1), eq. eca-gate."""
        check_input(x, self.channels)
        if use_fast_path(self.fast, False, x):
            return eca_fast.channel_gate(x, self.conv.weight)
        # fed as in the official code, the (N, C, 1) means transposed to (N, 1, C): Conv1d's
        # backward then runs ~20% faster than on a (N, 1, C) view of contiguous (N, C) means
        # (measured at (8, 2048, 7, 7) on a CPU)
        s = mean_over(x, [2, 3], keepdim=True).squeeze(-1).transpose(-1, -2)  # GAP, (N, 1, C)
        return torch.sigmoid(self.conv(s)).transpose(-1, -2).unsqueeze(-1)

    def forward(self, x: Tensor) -> Tensor:
        a = self.gate(x)
        if use_compiled_op(self.fast, False):  # under torch.compile: ATen's multiply (ops.py)
            return ops.scale(x, a)
        return x * a

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """The gate for plotting: ``{"channel": (N, C, 1, 1)}``."""
        return {"channel": self.gate(x)}

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}, fast={self.fast}"
