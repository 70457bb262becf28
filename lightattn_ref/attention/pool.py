"""The average pooling shared by the attention modules, written for a cheap backward pass.

``x.mean(dims)`` and ``x.sum(dims) / count`` give the same numbers (on the CPU, PyTorch computes
a mean as exactly that sum and division, in float32 for float16 and bfloat16 inputs), but
their backward passes differ. The gradient of a sum with respect to x is the output gradient
broadcast over the pooled axes, which PyTorch returns as a view that costs nothing. The
gradient of a mean is that broadcast divided by the count, which writes a new tensor the size
of x. Dividing the small pooled tensor instead removes a full pass over memory from every
training step of SE, ECA, CBAM, SA and Coordinate Attention.
"""

from __future__ import annotations

from typing import List

import torch
from torch import Tensor


def mean_over(x: Tensor, dims: List[int], keepdim: bool = False) -> Tensor:
    """Mean of ``x`` over ``dims``, equal to ``x.mean(dims, keepdim)``; its gradient is a view.

    Args:
        x: any tensor. dims: the axes to average over. keepdim: keep them as size-1 axes.
    """
    if len(dims) == 0:
        raise ValueError("dims must name at least one axis to average over; got []")
    count = 1
    for d in dims:
        count *= x.shape[d]
    # half-precision means are summed and divided in float32, rounded once, as PyTorch's are
    low_precision = x.dtype == torch.float16 or x.dtype == torch.bfloat16
    total = x.sum(dim=dims, keepdim=keepdim, dtype=torch.float32 if low_precision else None)
    # in place on the small sum: the division's backward divides the small gradient only
    return total.div_(count).to(x.dtype)
