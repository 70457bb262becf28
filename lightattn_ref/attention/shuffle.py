"""Shuffle Attention (SA), Zhang and Yang, ICASSP 2021 (SA-Net).

SA folds G groups into the batch, splits each group's C/G channels into two halves of
m = C / (2G) and gates them in two ways (chapter 04)::

    channel half:  a = sigma(w_c * GAP(x) + b_c)                         (eq. sa-channel)
    spatial half:  a = sigma(w_s * GN(x) + b_s)                          (eq. sa-spatial)
    y = shuffle_2(concat(a ⊙ x))                                          (eq. sa-shuffle)

where w_c, b_c, w_s, b_s in R^m are per-channel affines shared by all G groups, and GN is
GroupNorm with one channel per group, i.e. each channel standardised over its own H x W.
Parameters: 6m = 3C/G. Initial values as in the official code (wofmanaf/SA-Net
``models/sa_resnet.py``): w = 0, b = 1, so every gate starts at sigma(1).

This file is the textbook form: GroupNorm, then the affine; concatenate, then shuffle. With
``fast=True`` (default) ``ShuffleAttention`` folds the affine into GroupNorm's own and writes the
gated halves directly in the shuffled channel order, by ``torch.stack`` with autograd on and by
``out=`` writes in eager inference (``shuffle_fast.py``, which says where each is valid). The
literal sequence of the official code (reshape, chunk, pool, GroupNorm, cat, shuffle) is kept in
``lightattn_ref.official.SALayer``; tests assert both give the same outputs and gradients.

``ShuffleAttentionConv`` is the seed blog's variant: the two affines become full 1x1
convolutions Conv2d(m, m, 1) (2 m^2 + 4m parameters), which mix channels within a half. It has
no fast path.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from . import shuffle_fast
from ._checks import check_input, check_positive_int, use_fast_path
from .pool import mean_over


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: view C as (groups, C/groups), transpose, flatten.

    Output channel ``i * groups + g`` is input channel ``g * (C // groups) + i``.
    Shape: (N, C, H, W) -> (N, C, H, W), a copy.
    """
    n, c, h, w = x.shape
    if c % groups != 0:
        raise ValueError(f"x has {c} channels, which is not divisible by groups={groups}")
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _group_halves(x: Tensor, groups: int) -> tuple[Tensor, Tensor]:
    """Fold the groups into the batch and split each group: two (N*G, C/(2G), H, W) views of x."""
    n, c, h, w = x.shape
    x0, x1 = x.reshape(n * groups, c // groups, h, w).chunk(2, dim=1)
    return x0, x1


def _check_groups(channels: int, groups: int) -> int:
    check_positive_int("groups", groups)
    if channels % (2 * groups) != 0:
        raise ValueError(
            f"channels={channels} must be divisible by 2*groups={2 * groups} "
            f"(each of the groups={groups} groups is split into two equal halves)"
        )
    return channels // (2 * groups)


class ShuffleAttention(nn.Module):
    """SA block with the paper's per-channel affines (the official SA-Net layer).

    Args:
        channels: C, divisible by 2G.
        groups: G, the number of feature groups (official default 64).
        fast: take the fast paths of ``shuffle_fast.py`` where valid (the same outputs; False
            always runs the textbook form below). Settable later: ``m.fast``.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Shape: x (N, C, H, W) -> (N, C, H, W), channels in the shuffled order of eq. sa-shuffle.
    """

    def __init__(
        self,
        channels: int,
        *,
        groups: int = 64,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.groups = groups
        self.half_channels = m = _check_groups(channels, groups)
        self.fast = fast
        factory = {"device": device, "dtype": dtype}
        self.cweight = nn.Parameter(torch.zeros(1, m, 1, 1, **factory))
        self.cbias = nn.Parameter(torch.ones(1, m, 1, 1, **factory))
        self.sweight = nn.Parameter(torch.zeros(1, m, 1, 1, **factory))
        self.sbias = nn.Parameter(torch.ones(1, m, 1, 1, **factory))
        self.gn = nn.GroupNorm(m, m, **factory)  # one channel per group: per-channel spatial standardisation

    def _channel_gate(self, x0: Tensor) -> Tensor:
        """sigma(w_c * GAP(x0) + b_c) of shape (N*G, m, 1, 1), eq. sa-channel."""
        return torch.sigmoid(self.cweight * mean_over(x0, [2, 3], keepdim=True) + self.cbias)

    def _spatial_logits(self, x1: Tensor) -> Tensor:
        """w_s * GN(x1) + b_s of eq. sa-spatial, shape (N*G, m, H, W)."""
        if self.fast:
            gn = self.gn
            return shuffle_fast.folded_group_norm(x1, self.sweight, self.sbias, gn.weight, gn.bias, gn.eps)
        return self.sweight * self.gn(x1) + self.sbias

    def _gated_halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x0 ⊙ channel gate and x1 ⊙ spatial gate (eqs. sa-channel, sa-spatial), each (N*G, m, H, W)."""
        x0, x1 = _group_halves(x, self.groups)
        return x0 * self._channel_gate(x0), x1 * torch.sigmoid(self._spatial_logits(x1))

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.channels)
        even = self.groups % 2 == 0  # odd G has no shuffled 7-D view
        if even and use_fast_path(self.fast, False, x):
            x0, x1 = _group_halves(x, self.groups)
            gate_channel, spatial_logits = self._channel_gate(x0), self._spatial_logits(x1)
            y = shuffle_fast.gate_into_shuffled(x, self.groups, gate_channel, spatial_logits)
        elif even and self.fast:
            channel, spatial = self._gated_halves(x)
            y = shuffle_fast.stack_shuffled(channel, spatial, self.groups)
        else:
            n, c, h, w = x.shape
            concat = torch.cat(self._gated_halves(x), dim=1).reshape(n, c, h, w)
            y = channel_shuffle(concat, 2)  # eq. sa-shuffle
        return _like_input(y, x)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """Gates in the grouped (pre-shuffle) order: index ``g * m + i`` is channel ``i`` of group ``g``.

        Returns ``{"channel": (N, C/2, 1, 1), "spatial": (N, C/2, H, W)}``; input channel
        ``g * 2m + i`` gets ``channel[:, g*m + i]`` and ``g * 2m + m + i`` gets ``spatial[:, g*m + i]``.
        """
        check_input(x, self.channels)
        n, c, h, w = x.shape
        x0, x1 = _group_halves(x, self.groups)
        channel = self._channel_gate(x0).reshape(n, c // 2, 1, 1)
        spatial = torch.sigmoid(self._spatial_logits(x1)).reshape(n, c // 2, h, w)
        return {"channel": channel, "spatial": spatial}

    def extra_repr(self) -> str:
        return f"channels={self.channels}, groups={self.groups}, fast={self.fast}"


def _like_input(y: Tensor, x: Tensor) -> Tensor:
    """y in x's memory format: the shuffle writes NCHW order, and a channels_last network must
    get channels_last back, as from PyTorch's own layers (one copy, for such inputs only)."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return y.contiguous(memory_format=torch.channels_last)
    return y


class ShuffleAttentionConv(nn.Module):
    """The seed blog's SA variant: full 1x1 convolutions Conv2d(m, m, 1) instead of the affines.

    Written in the official code's literal order of operations. Args and shapes as
    ``ShuffleAttention``; it has no fast path, so ``fast`` is accepted for the common interface
    and changes nothing. Not the published module: it has 2 m^2 + 4m parameters and its
    convolutions start from PyTorch's random initialisation instead of w = 0, b = 1.
    """

    def __init__(
        self,
        channels: int,
        *,
        groups: int = 64,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.groups = groups
        self.half_channels = m = _check_groups(channels, groups)
        self.fast = fast
        factory = {"device": device, "dtype": dtype}
        self.channel_conv = nn.Conv2d(m, m, 1, **factory)
        self.spatial_conv = nn.Conv2d(m, m, 1, **factory)
        self.gn = nn.GroupNorm(m, m, **factory)

    def _gates(self, x0: Tensor, x1: Tensor) -> tuple[Tensor, Tensor]:
        channel = torch.sigmoid(self.channel_conv(mean_over(x0, [2, 3], keepdim=True)))  # eq. sa-channel
        spatial = torch.sigmoid(self.spatial_conv(self.gn(x1)))  # eq. sa-spatial
        return channel, spatial

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.channels)
        n, c, h, w = x.shape
        x0, x1 = _group_halves(x, self.groups)
        channel, spatial = self._gates(x0, x1)
        out = torch.cat([x0 * channel, x1 * spatial], dim=1).reshape(n, c, h, w)
        return _like_input(channel_shuffle(out, 2), x)  # eq. sa-shuffle

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """Same layout as ``ShuffleAttention.attention_maps``."""
        check_input(x, self.channels)
        n, c, h, w = x.shape
        channel, spatial = self._gates(*_group_halves(x, self.groups))
        return {"channel": channel.reshape(n, c // 2, 1, 1), "spatial": spatial.reshape(n, c // 2, h, w)}

    def extra_repr(self) -> str:
        return f"channels={self.channels}, groups={self.groups}, fast={self.fast}"
