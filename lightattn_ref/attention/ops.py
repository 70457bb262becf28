"""ULSAM's pool-and-sum as an operator that ``torch.compile`` calls as it is.

Under ``torch.compile`` a module's textbook form is traced, and Inductor, the default back end,
fuses its element-wise steps and reductions into C++ loops of its own. For six of the seven
modules that compiled textbook form is as fast as the eager fast path or faster (appendix
"making the modules fast", the benchmark's compiled columns). ULSAM is the exception: its
u = conv_point(maxpool_3x3(ReLU(BN(conv_dws(x))))) compiles to a max-pool over a full-size
intermediate, about three times slower than the package's C kernel, which makes u in one pass.

So ULSAM under ``torch.compile``, in inference with autograd off, calls the operator below
(``_checks.use_compiled_op``): ``torch.library.custom_op`` registers it, and the compiler calls
it as one opaque step and fuses what lies around it (the softmax and a ⊙ x + x). ``torch.export``
and TorchScript never see it (an exported graph must hold standard operators). It needs
PyTorch 2.4 or later; on an older PyTorch the compiler traces the textbook form.
"""

# no `from __future__ import annotations`: custom_op and TorchScript read these annotations as types
from typing import Callable, Optional

import torch
from torch import Tensor

from .._compat import has_custom_ops
from . import ulsam_fast


def _plane_per_group(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int, use_c_kernel: bool
) -> Tensor:
    """The operator's output on fake tensors: its shape, dtype and device, nothing computed."""
    n, _, h, w = x.shape
    return x.new_empty(n, weight.shape[0], h, w)


def pooled_pointwise(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int, use_c_kernel: bool
) -> Tensor:
    """ULSAM's u by the C kernel where ``use_c_kernel`` and it applies, else in cache-sized chunks:
    the eager inference path, and the body of the operator below."""
    if use_c_kernel and ulsam_fast.c_kernel_applies(x):
        return ulsam_fast.pooled_pointwise_c(x, scale, shift, weight, bias)
    return ulsam_fast.pooled_pointwise(x, scale, shift, weight, bias, chunk_bytes)


def _register() -> Optional[Callable[..., Tensor]]:
    """``lightattn::ulsam_pooled_pointwise``, or None where PyTorch has no ``torch.library.custom_op``."""
    if not has_custom_ops():
        return None
    op = torch.library.custom_op("lightattn::ulsam_pooled_pointwise", mutates_args=())(pooled_pointwise)
    op.register_fake(_plane_per_group)
    return op


#: The registered operator (None before PyTorch 2.4).
POOLED_POINTWISE_OP = _register()


@torch.jit.unused  # TorchScript compiles every branch of a forward; this keeps the operator out of it
def ulsam_pooled_pointwise(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int, use_c_kernel: bool
) -> Tensor:
    """ULSAM's u by the C kernel where it applies, else in cache-sized chunks, as one operator;
    arguments as ``ulsam_fast.pooled_pointwise`` and ``pooled_pointwise_c``."""
    assert POOLED_POINTWISE_OP is not None  # use_compiled_op is False without custom operators
    return POOLED_POINTWISE_OP(x, scale, shift, weight, bias, chunk_bytes, use_c_kernel)
