"""Operators that ``torch.compile`` calls as they are: the eager fast paths its fused loops do not beat.

Under ``torch.compile`` a module's textbook form is traced and Inductor, the default back end,
fuses its element-wise steps and reductions into C++ loops of its own. That removes passes over
memory where the eager code makes more than the minimum (CBAM, SA). It cannot help where the
eager code already makes the minimal passes, and on a CPU its loops stream memory more slowly
than ATen's kernels, so there the compiled form is slower (appendix "making the modules fast",
the benchmark's compiled columns):

- SE and ECA: the gate ``x * a`` is one read and one write in ATen already (``scale``);
- ULSAM: the pool-and-sum has no PyTorch operator that makes it in one pass, while the package's
  C kernel does (``ulsam_pooled_pointwise``);
- Coordinate Attention: the fast path's matrix products on thin strips beat the 1x1
  convolutions that the compiler calls (``coord_infer``).

For these, a module under ``torch.compile``, in inference with autograd off, calls the operator
below (``_checks.use_compiled_op``): ``torch.library.custom_op`` registers it, and the compiler
calls it as one opaque step and fuses what lies around it. ``torch.export`` and TorchScript never
see them (an exported graph must hold standard operators). They need PyTorch 2.4 or later; on an
older PyTorch the compiler traces the textbook form.
"""

# no `from __future__ import annotations`: custom_op and TorchScript read these annotations as types
from collections.abc import Callable
from typing import Optional

import torch
from torch import Tensor

from .._compat import has_custom_ops
from . import coord_fast, ulsam_fast


def _register(name: str, fake: Callable[..., Tensor]) -> Callable[[Callable[..., Tensor]], Optional[Callable]]:
    """Register ``fn`` as the custom operator ``lightattn::name`` with ``fake`` for its output's
    shape, dtype and layout; None where PyTorch has no ``torch.library.custom_op``."""

    def register(fn: Callable[..., Tensor]) -> Optional[Callable]:
        if not has_custom_ops():
            return None
        op = torch.library.custom_op(f"lightattn::{name}", mutates_args=())(fn)
        op.register_fake(fake)
        return op

    return register


def _product(x: Tensor, gate: Tensor) -> Tensor:
    return x * gate  # on fake tensors: the output's shape and strides, nothing computed


@_register("scale", _product)
def _scale(x: Tensor, gate: Tensor) -> Tensor:
    return x * gate


def _plane_per_group(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int, use_c_kernel: bool
) -> Tensor:
    n, _, h, w = x.shape
    return x.new_empty(n, weight.shape[0], h, w)


@_register("ulsam_pooled_pointwise", _plane_per_group)
def _ulsam_pooled_pointwise(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int, use_c_kernel: bool
) -> Tensor:
    if use_c_kernel and ulsam_fast.c_kernel_applies(x):
        return ulsam_fast.pooled_pointwise_c(x, scale, shift, weight, bias)
    return ulsam_fast.pooled_pointwise(x, scale, shift, weight, bias, chunk_bytes)


def _like_x(x: Tensor, *weights: Optional[Tensor]) -> Tensor:
    return torch.empty_like(x)


@_register("coord_infer", _like_x)
def _coord_infer(
    x: Tensor,
    w1: Tensor,
    b1: Tensor,
    weight_h: Tensor,
    bias_h: Optional[Tensor],
    weight_w: Tensor,
    bias_w: Optional[Tensor],
) -> Tensor:
    a_h, a_w = coord_fast.gates(x, w1, b1, weight_h, bias_h, weight_w, bias_w)
    return coord_fast.gate_in_place(x * a_w, a_h)


# TorchScript compiles every branch of a forward; these wrappers keep the operators out of it.


@torch.jit.unused
def scale(x: Tensor, gate: Tensor) -> Tensor:
    """x * gate as one ATen multiply, opaque to the compiler (SE's and ECA's last step)."""
    assert _scale is not None
    return _scale(x, gate)


@torch.jit.unused
def ulsam_pooled_pointwise(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int, use_c_kernel: bool
) -> Tensor:
    """ULSAM's u = conv_point(maxpool_3x3(ReLU(scale x + shift))) by the C kernel where it applies,
    else in cache-sized chunks (``ulsam_fast``); arguments as ``ulsam_fast.pooled_pointwise``."""
    assert _ulsam_pooled_pointwise is not None
    return _ulsam_pooled_pointwise(x, scale, shift, weight, bias, chunk_bytes, use_c_kernel)


@torch.jit.unused
def coord_infer(
    x: Tensor,
    w1: Tensor,
    b1: Tensor,
    weight_h: Tensor,
    bias_h: Optional[Tensor],
    weight_w: Tensor,
    bias_w: Optional[Tensor],
) -> Tensor:
    """Coordinate Attention's inference output by its eager fast path (``coord_fast.gates``, then
    the two gates applied, the second in place); arguments as ``coord_fast.gates``."""
    assert _coord_infer is not None
    return _coord_infer(x, w1, b1, weight_h, bias_h, weight_w, bias_w)
