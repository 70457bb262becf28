"""Convolutional Block Attention Module (CBAM), Woo, Park, Lee and Kweon, ECCV 2018.

CBAM gates channels first, then positions (chapter 03)::

    a^ch = sigma(MLP(GAP(x)) + MLP(GMP(x)))                     (eq. cbam-channel)
    x'   = a^ch ⊙ x
    a^sp = sigma(BN(conv7x7([max_c x', mean_c x'])))             (eq. cbam-spatial)
    y    = a^sp ⊙ x'

One MLP, Linear(C, C//r) -> ReLU -> Linear(C//r, C) with biases, is shared by both pooled
vectors. The spatial gate sees two maps, the channel-wise max first and the mean second,
and its 7x7 convolution has no bias; BatchNorm (eps 1e-5, momentum 0.01) follows it. This is the
official code (Jongchan/attention-module ``MODELS/cbam.py``); the paper's Eq. 3 has no BatchNorm
and orders the maps [mean, max] (chapter 03). Parameters: 2 C (C // r) + C // r + C + 2 k_sp^2 + 2
(k_sp = 7: + 100).

Initial values. The official module keeps PyTorch's defaults; the official network
(``MODELS/model_resnet.py``, ``ResNet.__init__``) then zeroes every bias and the spatial
BatchNorm weight, so the spatial gate starts at sigma(0) = 0.5 everywhere. The gates here set
those zeros themselves, so a CBAM on its own starts at 0.5 like one in the network. The spatial
convolution keeps PyTorch's default, as in the module file; the network script also redraws it
Kaiming-normal (fan_out), which is the script's choice, not the module's.

``ChannelGate`` alone is the channel-only variant that blog posts often call "CBAM"; it is
not the published module (registry name ``"cbam_channel"``).

This file is the textbook form. With ``fast=True`` (default) eager inference pools the maxima with
``amax`` and applies the spatial gate in place (``cbam_fast.py``; see ``use_fast_path``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import cbam_fast
from ._checks import (
    check_batchnorm_values,
    check_input,
    check_odd_kernel_size,
    check_positive_int,
    check_reduction,
    use_fast_path,
)
from .pool import max_over, mean_over


class ChannelGate(nn.Module):
    """CBAM's channel gate: average- and max-pooled vectors through one shared MLP.

    Args:
        channels: C.
        reduction: r, the hidden layer has C // r units (default 16).
        fast: take the inference fast path of ``cbam_fast.py`` where ``use_fast_path`` allows
            (the same gate; False always runs the textbook form). Settable later: ``m.fast``.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.reduction = check_reduction(channels, reduction)
        self.fast = fast
        hidden = channels // reduction
        self.fc1 = nn.Linear(channels, hidden, device=device, dtype=dtype)
        self.fc2 = nn.Linear(hidden, channels, device=device, dtype=dtype)
        nn.init.zeros_(self.fc1.bias)  # MODELS/model_resnet.py zeroes every bias
        nn.init.zeros_(self.fc2.bias)

    def mlp(self, s: Tensor) -> Tensor:
        return self.fc2(torch.relu(self.fc1(s)))

    def gate(self, x: Tensor) -> Tensor:
        """a^ch of eq. cbam-channel, shape (N, C, 1, 1)."""
        return self.gate_with(x, use_fast_path(self.fast, False, x))

    def gate_with(self, x: Tensor, fast: bool) -> Tensor:
        """a^ch with the fast path on or off as ``fast`` says (a CBAM decides for both gates)."""
        check_input(x, self.channels)
        avg = mean_over(x, [2, 3])  # GAP
        if fast:
            mx = cbam_fast.max_over_map(x)
        else:  # GMP
            mx = max_over(x.flatten(2), 2)
        return torch.sigmoid(self.mlp(avg) + self.mlp(mx))[:, :, None, None]

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"channel": (N, C, 1, 1)}``."""
        return {"channel": self.gate(x)}

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, fast={self.fast}"


class SpatialGate(nn.Module):
    """CBAM's spatial gate: a k_sp x k_sp convolution + BatchNorm on the [max, mean] channel maps.

    Args:
        spatial_kernel_size: k_sp, odd size of the square convolution (official: 7).
        fast: as ``ChannelGate``'s.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W); any C.
    """

    def __init__(
        self,
        *,
        spatial_kernel_size: int = 7,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        k = check_odd_kernel_size(
            "spatial_kernel_size", spatial_kernel_size, "so the map keeps its H x W size"
        )
        self.spatial_kernel_size = k
        self.fast = fast
        # PyTorch's default initialisation, as the official module (MODELS/cbam.py) has it
        self.conv = nn.Conv2d(2, 1, k, padding=(k - 1) // 2, bias=False, device=device, dtype=dtype)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01, device=device, dtype=dtype)
        nn.init.zeros_(self.bn.weight)  # as MODELS/model_resnet.py: the gate starts at 0.5 everywhere

    def gate(self, x: Tensor) -> Tensor:
        """a^sp of eq. cbam-spatial, shape (N, 1, H, W)."""
        return self.gate_with(x, use_fast_path(self.fast, False, x))

    def gate_with(self, x: Tensor, fast: bool) -> Tensor:
        """a^sp with the fast path on or off as ``fast`` says (a CBAM decides for both gates)."""
        check_batchnorm_values(
            self.training, x.shape[0] * x.shape[2] * x.shape[3], "CBAM's spatial BatchNorm", list(x.shape)
        )
        mx = cbam_fast.max_over_channels(x) if fast else max_over(x, 1, keepdim=True)
        pooled = torch.cat([mx, mean_over(x, [1], keepdim=True)], dim=1)  # [max_c, mean_c]
        return torch.sigmoid(self.bn(self.conv(pooled)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gate(x)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"spatial": (N, 1, H, W)}``."""
        return {"spatial": self.gate(x)}

    def extra_repr(self) -> str:
        return f"spatial_kernel_size={self.spatial_kernel_size}, fast={self.fast}"


class CBAM(nn.Module):
    """CBAM: the channel gate followed by the spatial gate.

    Args:
        channels: C.
        reduction: r of the channel MLP (default 16).
        spatial_kernel_size: k_sp of the spatial convolution (default 7).
        fast: as ``ChannelGate``'s; a CBAM's own switch decides for both of its gates.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(
        self,
        channels: int,
        *,
        reduction: int = 16,
        spatial_kernel_size: int = 7,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.reduction = reduction
        self.spatial_kernel_size = spatial_kernel_size
        self.fast = fast
        self.channel_gate = ChannelGate(channels, reduction=reduction, fast=fast, device=device, dtype=dtype)
        self.spatial_gate = SpatialGate(
            spatial_kernel_size=spatial_kernel_size, fast=fast, device=device, dtype=dtype
        )

    def forward(self, x: Tensor) -> Tensor:
        fast = use_fast_path(self.fast, False, x)
        x1 = x * self.channel_gate.gate_with(x, fast)  # x' = a^ch ⊙ x
        a_sp = self.spatial_gate.gate_with(x1, fast)
        return cbam_fast.scale_in_place(x1, a_sp) if fast else x1 * a_sp  # y = a^sp ⊙ x'

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"channel": (N, C, 1, 1), "spatial": (N, 1, H, W)}``; the spatial map is computed
        on the channel-gated features, as in the forward pass."""
        fast = use_fast_path(self.fast, False, x)
        a_ch = self.channel_gate.gate_with(x, fast)
        return {"channel": a_ch, "spatial": self.spatial_gate.gate_with(x * a_ch, fast)}

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, reduction={self.reduction}, "
            f"spatial_kernel_size={self.spatial_kernel_size}, fast={self.fast}"
        )
