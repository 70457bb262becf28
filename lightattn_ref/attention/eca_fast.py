"""ECA's inference fast path: the k-tap convolution over the pooled channels as one matrix product.

``EfficientChannelAttention`` takes it when ``use_fast_path`` allows (its ``fast`` switch on, no
autograd, no tracer or compiler); it needs no eval-mode state, so training mode may take it too.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .pool import mean_over


def channel_gate(x: Tensor, weight: Tensor) -> Tensor:
    """sigma(conv1d_k(GAP(x))) of eq. eca-gate, shape (N, C, 1, 1), by unfolding instead of Conv1d.

    The C pooled values, zero-padded by (k - 1) / 2 at both ends, are cut into C windows of k
    values (``unfold``, a view); each window times the k taps is one output of the convolution.
    The same sums as ``conv1d(s[:, None, :], weight, padding=(k - 1) // 2)``, about twice as fast
    on a CPU for such one short sequence per image. Conv1d keeps the faster backward, so the module
    uses it whenever autograd is on.

    Args:
        x: (N, C, H, W). weight: the Conv1d weight, (1, 1, k) with k odd.
    """
    k = weight.shape[-1]
    p = (k - 1) // 2
    s = mean_over(x, [2, 3])  # (N, C)
    windows = F.pad(s, (p, p)).unfold(1, k, 1)  # (N, C, k), zero-padded ends
    return torch.sigmoid(windows @ weight.view(k, 1))[..., None]  # (N, C, 1, 1)
