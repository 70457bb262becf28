"""Shuffle Attention (SA), Zhang and Yang, ICASSP 2021 (SA-Net).

SA folds G groups into the batch, splits each group's C/G channels into two halves of
m = C / (2G) and gates them in two ways (chapter 04)::

    channel half:  a = sigma(w_c * GAP(x) + b_c)                         (eq. sa-channel)
    spatial half:  a = sigma(w_s * GN(x) + b_s)                          (eq. sa-spatial)
    y = shuffle_2(concat(a ⊙ x))                                          (eq. sa-shuffle)

where w_c, b_c, w_s, b_s in R^m are per-channel affines shared by all G groups, and GN is
GroupNorm with one channel per group, i.e. each channel standardised over its own H x W.
Parameters: 6m = 3C/G. Initial values as in the official code: w = 0, b = 1, so every gate
starts at sigma(1).

``ShuffleAttention`` folds the spatial half's affine into GroupNorm's own (one GroupNorm call
gives w_s * GN(x) + b_s, a pass over the half saved in both directions of training). At
inference it writes the gated values directly in the shuffled channel order, so the
concatenation and the shuffle cost no extra copy of x; with autograd on, one ``torch.stack``
writes them in that order, one copy where concatenation and shuffle make two. The literal
sequence of the official code (reshape, chunk, pool, GroupNorm, cat, shuffle) is kept in
``lightattn_ref.official.SALayer``; tests assert both give the same outputs and gradients.

``ShuffleAttentionConv`` is the seed blog's variant: the two affines become full 1x1
convolutions Conv2d(m, m, 1) (2 m^2 + 4m parameters), which mix channels within a half.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_input, check_positive_int, eager_inference
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

    Shape: x (N, C, H, W) -> (N, C, H, W), channels in the shuffled order of eq. sa-shuffle.
    """

    def __init__(self, channels: int, *, groups: int = 64) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.groups = groups
        self.half_channels = m = _check_groups(channels, groups)
        self.cweight = nn.Parameter(torch.zeros(1, m, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, m, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, m, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, m, 1, 1))
        self.gn = nn.GroupNorm(m, m)  # one channel per group: per-channel spatial standardisation

    def _channel_gate(self, x0: Tensor) -> Tensor:
        """sigma(w_c * GAP(x0) + b_c) of shape (N*G, m, 1, 1), eq. sa-channel."""
        return torch.sigmoid(self.cweight * mean_over(x0, [2, 3], keepdim=True) + self.cbias)

    def _spatial_logits(self, x1: Tensor) -> Tensor:
        """w_s * GN(x1) + b_s of eq. sa-spatial as one GroupNorm call, shape (N*G, m, H, W).

        GN(x1) = gn_w * xhat + gn_b, so w_s * GN(x1) + b_s = (w_s gn_w) * xhat + (w_s gn_b + b_s):
        the two affines fold into GroupNorm's own, which saves a pass over the spatial half.
        """
        w_s, b_s = self.sweight.view(-1), self.sbias.view(-1)
        return F.group_norm(x1, self.half_channels, w_s * self.gn.weight, w_s * self.gn.bias + b_s, self.gn.eps)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.channels)
        if self.groups % 2 == 1:
            y = self._concat_shuffle(x)  # odd G has no shuffled 7-D view
        elif eager_inference(self.training):
            y = self._gate_into_shuffled(x)
        else:
            y = self._stack_shuffled(x)
        return _like_input(y, x)

    def _gated_halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x0 ⊙ channel gate and x1 ⊙ spatial gate (eqs. sa-channel, sa-spatial), each (N*G, m, H, W)."""
        x0, x1 = _group_halves(x, self.groups)
        return x0 * self._channel_gate(x0), x1 * torch.sigmoid(self._spatial_logits(x1))

    def _concat_shuffle(self, x: Tensor) -> Tensor:
        """The official order: concatenate the gated halves, then shuffle (eq. sa-shuffle)."""
        n, c, h, w = x.shape
        return channel_shuffle(torch.cat(self._gated_halves(x), dim=1).reshape(n, c, h, w), 2)

    def _stack_shuffled(self, x: Tensor) -> Tensor:
        """Autograd path (G even): one stack writes both gated halves in the shuffled order.

        Channel i of half ``half`` of group (s, g') goes to output channel (g', half, i, s), as
        in ``_gate_into_shuffled``. Viewing each (N*G, m, H, W) half as (N, s, g', m, H, W) and
        moving s behind i makes ``torch.stack(..., dim=2)`` produce exactly that layout: one
        copy forward and none backward, where cat and shuffle make two copies in each direction.
        """
        n, c, h, w = x.shape
        g2, m = self.groups // 2, self.half_channels
        channel, spatial = self._gated_halves(x)
        channel = channel.view(n, 2, g2, m, h, w).permute(0, 2, 3, 1, 4, 5)
        spatial = spatial.view(n, 2, g2, m, h, w).permute(0, 2, 3, 1, 4, 5)
        return torch.stack([channel, spatial], dim=2).view(n, c, h, w)

    def _gate_into_shuffled(self, x: Tensor) -> Tensor:
        """Inference fast path (G even): write each half straight into its shuffled place.

        With G = 2 G', input channel (s, g', half, i) goes to output channel (g', half, i, s), so
        x and the output are 7-D views of one layout, and the concatenation and the shuffle cost
        no copy. The spatial gate's sigmoid writes straight into the output, which is then
        multiplied by x in place; on a CPU at (8, 256, 56, 56) that measured about 10% faster
        than a sigmoid in place on the logits followed by a product into the output.
        """
        n, c, h, w = x.shape
        g2, m = self.groups // 2, self.half_channels
        x0, x1 = _group_halves(x, self.groups)
        gate_channel = self._channel_gate(x0).view(n, 2, g2, m, 1, 1)
        logits = self._spatial_logits(x1).view(n, 2, g2, m, h, w)
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        out7 = out.view(n, g2, 2, m, 2, h, w).permute(0, 4, 1, 2, 3, 5, 6)
        x7 = x.reshape(n, 2, g2, 2, m, h, w)
        torch.mul(x7[:, :, :, 0], gate_channel, out=out7[:, :, :, 0])
        torch.sigmoid(logits, out=out7[:, :, :, 1]).mul_(x7[:, :, :, 1])
        return out

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


def _like_input(y: Tensor, x: Tensor) -> Tensor:
    """y in x's memory format: the shuffle writes NCHW order, and a channels_last network must
    get channels_last back, as from PyTorch's own layers (one copy, for such inputs only)."""
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return y.contiguous(memory_format=torch.channels_last)
    return y


class ShuffleAttentionConv(nn.Module):
    """The seed blog's SA variant: full 1x1 convolutions Conv2d(m, m, 1) instead of the affines.

    Written in the official code's literal order of operations. Args and shapes as
    ``ShuffleAttention``. Not the published module: it has 2 m^2 + 4m parameters and its
    convolutions start from PyTorch's random initialisation instead of w = 0, b = 1.
    """

    def __init__(self, channels: int, *, groups: int = 64) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.groups = groups
        self.half_channels = m = _check_groups(channels, groups)
        self.channel_conv = nn.Conv2d(m, m, 1)
        self.spatial_conv = nn.Conv2d(m, m, 1)
        self.gn = nn.GroupNorm(m, m)

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
