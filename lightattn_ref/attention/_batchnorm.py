"""Eval-mode BatchNorm as the per-channel affine it is, so inference can fold it into a layer."""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor


def eval_batchnorm_affine(
    running_mean: Optional[Tensor],
    running_var: Optional[Tensor],
    weight: Optional[Tensor],
    bias: Optional[Tensor],
    eps: float,
) -> Tuple[Tensor, Tensor]:
    """(scale, shift), each (C,), with BN(z) = scale * z + shift for a BatchNorm in eval mode.

    Takes the BatchNorm's tensors rather than the layer, so TorchScript can compile the callers.
    """
    # an affine BatchNorm that tracks statistics always has them; the check narrows Optional for TorchScript
    assert running_mean is not None and running_var is not None and weight is not None and bias is not None
    scale = weight * torch.rsqrt(running_var + eps)
    return scale, bias - running_mean * scale
