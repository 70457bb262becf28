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

Both halves are the same function of x: a = sigma(A ⊙ x + B) with per-(sample, channel)
coefficients A and B (A = 0 for the channel half). ``ShuffleAttention`` computes A and B from
per-channel statistics and, at inference, writes the gated values directly in the shuffled
channel order, so the concatenation and the shuffle cost no extra copy of x. With autograd on,
it runs the literal sequence, whose GroupNorm has a fused backward pass. The literal sequence of the official
code (reshape, chunk, pool, GroupNorm, cat, shuffle) is kept in
``lightattn_ref.official.ShuffleAttention``; tests assert both give the same outputs.

``ShuffleAttentionConv`` is the seed blog's variant: the two affines become full 1x1
convolutions Conv2d(m, m, 1) (2 m^2 + 4m parameters), which mix channels within a half.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._checks import check_input, check_positive_int


def channel_shuffle(x: Tensor, groups: int) -> Tensor:
    """ShuffleNet's channel shuffle: view C as (groups, C/groups), transpose, flatten.

    Output channel ``i * groups + g`` is input channel ``g * (C // groups) + i``.
    Shape: (N, C, H, W) -> (N, C, H, W), a copy.
    """
    n, c, h, w = x.shape
    if c % groups != 0:
        raise ValueError(f"x has {c} channels, which is not divisible by groups={groups}")
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


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
        self.half = m = _check_groups(channels, groups)
        self.cweight = nn.Parameter(torch.zeros(1, m, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, m, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, m, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, m, 1, 1))
        self.gn = nn.GroupNorm(m, m)  # one channel per group: per-channel spatial standardisation

    def _coefficients(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Per-(sample, group, channel) coefficients of the gates, each (N, G, m).

        Channel half: a = sigma(b_channel). Spatial half: a = sigma(scale ⊙ x + b_spatial), because
        GroupNorm with one channel per group is GN(x) = gn_w (x - mu) / sqrt(var + eps) + gn_b.
        """
        n, _, h, w = x.shape
        m = self.half
        xg = x.reshape(n, self.groups, 2, m, h * w)
        mean = xg.mean(dim=4)  # (N, G, 2, m)
        # two-pass variance of the spatial half (torch.var_mean is ~20x slower on CPU here)
        centred = xg[:, :, 1] - mean[:, :, 1, :, None]
        var = torch.linalg.vecdot(centred, centred) / (h * w)
        b_channel = self.cweight.view(m) * mean[:, :, 0] + self.cbias.view(m)  # eq. sa-channel
        scale = self.sweight.view(m) * self.gn.weight * torch.rsqrt(var + self.gn.eps)  # eq. sa-spatial
        b_spatial = self.sweight.view(m) * self.gn.bias + self.sbias.view(m) - scale * mean[:, :, 1]
        return b_channel, scale, b_spatial

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.channels)
        if torch.is_grad_enabled():
            return self._literal(x)  # GroupNorm's fused backward beats autograd through our statistics
        b_channel, scale, b_spatial = self._coefficients(x)
        if self.groups % 2 == 0:
            return self._gate_into_shuffled(x, b_channel, scale, b_spatial)
        return self._gate_shuffled_view(x, b_channel, scale, b_spatial)

    def _literal(self, x: Tensor) -> Tensor:
        """The official sequence: fold groups, gate each half, concatenate, shuffle."""
        n, c, h, w = x.shape
        x0, x1 = x.reshape(n * self.groups, 2 * self.half, h, w).chunk(2, dim=1)
        channel = torch.sigmoid(self.cweight * x0.mean(dim=(2, 3), keepdim=True) + self.cbias)
        spatial = torch.sigmoid(self.sweight * self.gn(x1) + self.sbias)
        out = torch.cat([x0 * channel, x1 * spatial], dim=1).reshape(n, c, h, w)
        return channel_shuffle(out, 2)

    def _gate_shuffled_view(self, x: Tensor, b_channel: Tensor, scale: Tensor, b_spatial: Tensor) -> Tensor:
        """Both halves as a = sigma(A ⊙ x + B) (A = 0 for the channel half), evaluated on a
        shuffled view of x, so the result is written once, already in eq. sa-shuffle's order."""
        n, c, h, w = x.shape
        a = torch.stack([torch.zeros_like(scale), scale], dim=2)  # (N, G, 2, m): pre-shuffle order
        b = torch.stack([b_channel, b_spatial], dim=2)
        # output channel 2i + s reads channel s * C/2 + i
        x_shuffled = x.reshape(n, 2, c // 2, h, w).transpose(1, 2)
        a = a.reshape(n, 2, c // 2, 1, 1).transpose(1, 2).contiguous()
        b = b.reshape(n, 2, c // 2, 1, 1).transpose(1, 2).contiguous()
        # the small contiguous tensor goes first: PyTorch then lays the result out like it
        gate = torch.sigmoid(torch.addcmul(b, a, x_shuffled))
        return (gate * x_shuffled).reshape(n, c, h, w)

    def _gate_into_shuffled(self, x: Tensor, b_channel: Tensor, scale: Tensor, b_spatial: Tensor) -> Tensor:
        """Inference fast path (G even): write each half straight into its shuffled place.

        With G = 2 G', input channel (s, g', half, i) goes to output channel (g', half, i, s), so
        both tensors are 7-D views of one layout; only the spatial half pays for a sigmoid.
        """
        n, c, h, w = x.shape
        g2, m = self.groups // 2, self.half
        out = torch.empty_like(x, memory_format=torch.contiguous_format)
        out7 = out.view(n, g2, 2, m, 2, h, w).permute(0, 4, 1, 2, 3, 5, 6)
        x7 = x.reshape(n, 2, g2, 2, m, h, w)
        gate_channel = torch.sigmoid(b_channel).view(n, 2, g2, m, 1, 1)
        torch.mul(x7[:, :, :, 0], gate_channel, out=out7[:, :, :, 0])
        spatial = out7[:, :, :, 1]
        torch.addcmul(b_spatial.view(n, 2, g2, m, 1, 1), scale.view(n, 2, g2, m, 1, 1), x7[:, :, :, 1], out=spatial)
        spatial.sigmoid_().mul_(x7[:, :, :, 1])
        return out

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """Gates in the grouped (pre-shuffle) order: index ``g * m + i`` is channel ``i`` of group ``g``.

        Returns ``{"channel": (N, C/2, 1, 1), "spatial": (N, C/2, H, W)}``; input channel
        ``g * 2m + i`` gets ``channel[:, g*m + i]`` and ``g * 2m + m + i`` gets ``spatial[:, g*m + i]``.
        """
        check_input(x, self.channels)
        n, c, h, w = x.shape
        b_channel, scale, b_spatial = self._coefficients(x)
        x_spatial = x.reshape(n, self.groups, 2, self.half, h, w)[:, :, 1]
        spatial = torch.sigmoid(scale[..., None, None] * x_spatial + b_spatial[..., None, None])
        channel = torch.sigmoid(b_channel).reshape(n, c // 2, 1, 1)
        return {"channel": channel, "spatial": spatial.reshape(n, c // 2, h, w)}


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
        self.half = m = _check_groups(channels, groups)
        self.channel_conv = nn.Conv2d(m, m, 1)
        self.spatial_conv = nn.Conv2d(m, m, 1)
        self.gn = nn.GroupNorm(m, m)

    def _halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Fold the groups into the batch and split each group: two (N*G, m, H, W) views."""
        n, c, h, w = x.shape
        x0, x1 = x.reshape(n * self.groups, 2 * self.half, h, w).chunk(2, dim=1)
        return x0, x1

    def _gates(self, x0: Tensor, x1: Tensor) -> tuple[Tensor, Tensor]:
        channel = torch.sigmoid(self.channel_conv(x0.mean(dim=(2, 3), keepdim=True)))  # eq. sa-channel
        spatial = torch.sigmoid(self.spatial_conv(self.gn(x1)))  # eq. sa-spatial
        return channel, spatial

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.channels)
        n, c, h, w = x.shape
        x0, x1 = self._halves(x)
        channel, spatial = self._gates(x0, x1)
        out = torch.cat([x0 * channel, x1 * spatial], dim=1).reshape(n, c, h, w)
        return channel_shuffle(out, 2)  # eq. sa-shuffle

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """Same layout as ``ShuffleAttention.attention_maps``."""
        check_input(x, self.channels)
        n, c, h, w = x.shape
        channel, spatial = self._gates(*self._halves(x))
        return {"channel": channel.reshape(n, c // 2, 1, 1), "spatial": spatial.reshape(n, c // 2, h, w)}
