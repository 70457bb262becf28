"""Convolutional Block Attention Module (CBAM), Woo, Park, Lee and Kweon, ECCV 2018.

CBAM gates channels first, then positions (chapter 03)::

    a^ch = sigma(MLP(GAP(x)) + MLP(GMP(x)))                     (eq. cbam-channel)
    x'   = a^ch ⊙ x
    a^sp = sigma(BN(conv7x7([max_c x', mean_c x'])))             (eq. cbam-spatial)
    y    = a^sp ⊙ x'

One MLP, Linear(C, C//r) -> ReLU -> Linear(C//r, C) with biases, is shared by both pooled
vectors. The spatial gate sees two maps, the channel-wise max first and the mean second,
and its 7x7 convolution has no bias; BatchNorm (eps 1e-5, momentum 0.01) follows it. This is the
official code; the paper's Eq. 3 has no BatchNorm and orders the maps [mean, max] (chapter 03).
Parameters: 2 C (C // r) + C // r + C + 2 k_sp^2 + 2 (k_sp = 7: + 100).

Initial values follow the official ResNet code: the spatial convolution is Kaiming-normal,
every bias is zero and the spatial BatchNorm weight is zero, so the spatial gate starts at
sigma(0) = 0.5 everywhere.

``ChannelGate`` alone is the channel-only variant that blog posts often call "CBAM"; it is
not the published module (registry name ``"cbam_channel"``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_batchnorm_values, check_input, check_positive_int, check_reduction
from .pool import mean_over


def max_keepdim(x: Tensor, dim: int) -> Tensor:
    """Maximum over ``dim``, kept as a size-1 axis. At inference ``amax`` is fastest; with autograd,
    max with indices is, because its backward scatters to one index instead of comparing all."""
    if torch.is_grad_enabled():
        return x.max(dim=dim, keepdim=True).values
    return x.amax(dim=dim, keepdim=True)


class ChannelGate(nn.Module):
    """CBAM's channel gate: average- and max-pooled vectors through one shared MLP.

    Args:
        channels: C.
        reduction: r, the hidden layer has C // r units (default 16).

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.reduction = check_reduction(channels, reduction)
        hidden = channels // reduction
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)
        nn.init.zeros_(self.fc1.bias)
        nn.init.zeros_(self.fc2.bias)

    def mlp(self, s: Tensor) -> Tensor:
        return self.fc2(torch.relu(self.fc1(s)))

    def gate(self, x: Tensor) -> Tensor:
        """a^ch of eq. cbam-channel, shape (N, C, 1, 1)."""
        check_input(x, self.channels)
        avg = mean_over(x, [2, 3])
        mx = max_keepdim(x.flatten(2), 2)[:, :, 0]
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"channel": (N, C, 1, 1)}``."""
        return {"channel": self.gate(x)}


class SpatialGate(nn.Module):
    """CBAM's spatial gate: a k x k convolution + BatchNorm on the [max, mean] channel maps.

    Args:
        kernel_size: odd size of the square convolution (official: 7).

    Shape: x (N, C, H, W) -> (N, C, H, W); any C.
    """

    def __init__(self, *, kernel_size: int = 7) -> None:
        super().__init__()
        check_positive_int("kernel_size", kernel_size)
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size={kernel_size} must be odd so the map keeps its H x W size")
        self.kernel_size = kernel_size
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)
        nn.init.kaiming_normal_(self.conv.weight)
        nn.init.zeros_(self.bn.weight)  # the gate starts at 0.5 everywhere

    def gate(self, x: Tensor) -> Tensor:
        """a^sp of eq. cbam-spatial, shape (N, 1, H, W)."""
        check_batchnorm_values(
            self.training, x.shape[0] * x.shape[2] * x.shape[3], "CBAM's spatial BatchNorm", list(x.shape)
        )
        pooled = torch.cat([max_keepdim(x, 1), mean_over(x, [1], keepdim=True)], dim=1)
        return torch.sigmoid(self.bn(self.conv(pooled)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"spatial": (N, 1, H, W)}``."""
        return {"spatial": self.gate(x)}


class CBAM(nn.Module):
    """CBAM: the channel gate followed by the spatial gate.

    Args:
        channels: C.
        reduction: r of the channel MLP (default 16).
        spatial_kernel_size: k of the spatial convolution (default 7).

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, *, reduction: int = 16, spatial_kernel_size: int = 7) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.channel_gate = ChannelGate(channels, reduction=reduction)
        self.spatial_gate = SpatialGate(kernel_size=spatial_kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        x1 = self.channel_gate(x)  # a fresh tensor, so inference may scale it in place
        a_s = self.spatial_gate.gate(x1)
        return x1 * a_s if torch.is_grad_enabled() else x1.mul_(a_s)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"channel": (N, C, 1, 1), "spatial": (N, 1, H, W)}``; the spatial map is computed
        on the channel-gated features, as in the forward pass."""
        a_c = self.channel_gate.gate(x)
        return {"channel": a_c, "spatial": self.spatial_gate.gate(x * a_c)}
