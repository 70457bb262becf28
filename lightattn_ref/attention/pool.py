"""The average and max pooling shared by the attention modules, written for a cheap backward pass.

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

from .._compat import is_compiling


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


def max_over(x: Tensor, dim: int, keepdim: bool = False) -> Tensor:
    """Maximum of ``x`` over the axis ``dim``, written for a cheap backward in eager and compiled code.

    Eager: ``max`` with indices, whose backward writes one value per maximum (``amax``'s would
    compare every element with it). Under ``torch.compile``: ``amax``, whose backward Inductor
    fuses into the loop that makes the other gradient terms, while ``max``'s compiles to a
    zero-filled tensor and a scatter (CBAM's channel gate trained about 1.5 times slower). The
    two gradients differ only at ties: ``max`` gives it to one of the tied elements, ``amax``
    shares it among them equally.
    """
    if torch.jit.is_scripting():
        return x.max(dim=dim, keepdim=keepdim).values
    if is_compiling():
        return x.amax(dim=dim, keepdim=keepdim)
    return x.max(dim=dim, keepdim=keepdim).values
