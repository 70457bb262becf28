"""What two of the chapter's checks share: the reader's gated module applied to x, checked for shape."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._common import as_tensor, call_answer


def _gated_output(module: nn.Module, x: Tensor, gate: Tensor) -> Tensor:
    """The reader's module applied to x, once it is neither the gate itself nor another shape."""
    n, c, h, w = x.shape
    y = as_tensor(call_answer(module, x.clone(), what="the module"), (n, c, h, w), "the module")
    if tuple(y.shape) == (n, c, 1, 1) and torch.allclose(y, gate, atol=1e-6):
        raise AssertionError("the module returns the gate a; return the scaled input a ⊙ x instead.")
    if tuple(y.shape) != (n, c, h, w):
        raise AssertionError(
            f"the module returned shape {tuple(y.shape)} for x of shape {(n, c, h, w)}; it must keep x's shape."
        )
    return y
