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

The convolution over the C pooled values is written as what it computes: the values,
zero-padded by (k - 1) / 2 at both ends, cut into C windows of k (``unfold``, a view), each
window times the k taps. The same sums as ``conv1d(s[:, None, :], weight, padding=(k - 1) // 2)``,
about twice as fast on a CPU for one short sequence per image, as fast in a training step, and
without a convolution in the graph that ``torch.compile`` sees (see ``gate``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_input, check_odd_kernel_size, check_positive_int
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
        fast: accepted for the common interface; ECA's textbook form is its fast form.
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
        n, c = x.shape[:2]
        k = self.kernel_size
        s = mean_over(x, [2, 3])  # GAP, (N, C)
        # conv1d over the channels as the sums it computes. Unlike Conv1d, this keeps torch.compile
        # from switching the graph to channels-last (Inductor does so on a CPU for any graph with
        # a convolution, and x's reductions then ran about 1.4 times slower in a training step)
        neighbours = F.pad(s, ((k - 1) // 2, (k - 1) // 2)).unfold(1, k, 1)  # (N, C, k)
        return torch.sigmoid(neighbours @ self.conv.weight.view(k, 1)).view(n, c, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """The gate for plotting: ``{"channel": (N, C, 1, 1)}``."""
        return {"channel": self.gate(x)}

    def extra_repr(self) -> str:
        return f"channels={self.channels}, kernel_size={self.kernel_size}, fast={self.fast}"
