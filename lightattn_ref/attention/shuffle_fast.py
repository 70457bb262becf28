"""Shuffle Attention's fast paths: the shuffled order written directly, GroupNorm with one affine.

``ShuffleAttention`` with ``fast=True`` (default) uses them; with ``fast=False`` it runs the
textbook form of ``shuffle.py`` (concatenate, then shuffle; GroupNorm, then the affine).

- ``gate_into_shuffled``: eager inference only (``use_fast_path``), because its ``out=`` writes
  into views are refused by autograd and not traced by compilers. Eval mode is not needed:
  GroupNorm has no running statistics.
- ``stack_shuffled`` and ``folded_group_norm`` are ordinary differentiable operations, valid in
  training, under TorchScript and under ``torch.compile``, so ``fast=True`` takes them everywhere.
  ``stack_shuffled`` gives the same values as concatenation and shuffle; ``folded_group_norm`` the
  same up to float rounding.

Both shuffled-order paths need an even number of groups G (the 7-D views split G = 2 G').
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def folded_group_norm(x1: Tensor, w_s: Tensor, b_s: Tensor, gn_w: Tensor, gn_b: Tensor, eps: float) -> Tensor:
    """w_s * GN(x1) + b_s of eq. sa-spatial as one GroupNorm call, shape (N*G, m, H, W).

    GN(x1) = gn_w * xhat + gn_b, so w_s * GN(x1) + b_s = (w_s gn_w) * xhat + (w_s gn_b + b_s): the
    two affines fold into GroupNorm's own, which saves a pass over the half in both directions of
    training. Args: x1 (N*G, m, H, W); w_s, b_s (1, m, 1, 1); gn_w, gn_b (m,); GroupNorm's eps.
    """
    w_s, b_s = w_s.view(-1), b_s.view(-1)
    return F.group_norm(x1, x1.shape[1], w_s * gn_w, w_s * gn_b + b_s, eps)


def stack_shuffled(channel: Tensor, spatial: Tensor, groups: int) -> Tensor:
    """concat + shuffle of eq. sa-shuffle as one ``torch.stack``: (N, C, H, W) from the two gated
    halves, each (N*G, m, H, W) with m = C / (2G), G even.

    With G = 2 G', channel i of half ``half`` of group (s, g') goes to output channel
    (g', half, i, s). Viewing each half as (N, s, g', m, H, W) and moving s behind i makes the
    stack along a new axis 2 write exactly that layout: one copy forward and none backward, where
    concatenation and shuffle make two copies in each direction.
    """
    ng, m, h, w = channel.shape
    n, g2 = ng // groups, groups // 2
    channel = channel.view(n, 2, g2, m, h, w).permute(0, 2, 3, 1, 4, 5)
    spatial = spatial.view(n, 2, g2, m, h, w).permute(0, 2, 3, 1, 4, 5)
    return torch.stack([channel, spatial], dim=2).view(n, 2 * groups * m, h, w)


def gate_into_shuffled(x: Tensor, groups: int, gate_channel: Tensor, spatial_logits: Tensor) -> Tensor:
    """Eqs. sa-channel, sa-spatial and sa-shuffle at inference: each gated half written straight
    into its shuffled place, (N, C, H, W) contiguous.

    x and the output are 7-D views of one layout (see ``stack_shuffled``), so the concatenation and
    the shuffle cost no copy. The spatial gate's sigmoid writes straight into the output, which is
    then multiplied by x in place; on a CPU at (8, 256, 56, 56) that measured about 10% faster than
    a sigmoid in place on the logits followed by a product into the output.

    Args:
        x: (N, C, H, W). groups: G, even.
        gate_channel: sigma(w_c GAP(x0) + b_c), (N*G, m, 1, 1).
        spatial_logits: w_s GN(x1) + b_s, (N*G, m, H, W).
    """
    n, c, h, w = x.shape
    g2, m = groups // 2, c // (2 * groups)
    gate_channel = gate_channel.view(n, 2, g2, m, 1, 1)
    spatial_logits = spatial_logits.view(n, 2, g2, m, h, w)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    out7 = out.view(n, g2, 2, m, 2, h, w).permute(0, 4, 1, 2, 3, 5, 6)
    x7 = x.reshape(n, 2, g2, 2, m, h, w)
    torch.mul(x7[:, :, :, 0], gate_channel, out=out7[:, :, :, 0])
    torch.sigmoid(spatial_logits, out=out7[:, :, :, 1]).mul_(x7[:, :, :, 1])
    return out
