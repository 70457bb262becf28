"""ULSAM's fast paths: u of eqs. ulsam-dw and ulsam-pw without full-size intermediates.

``ULSAM`` with ``fast=True`` (default) uses them where valid; with ``fast=False`` it runs the
textbook form of ``ulsam.py``. The names ``C_KERNEL``, ``CHUNK_BYTES``, ``pooled_pointwise``,
``pooled_pointwise_c`` and ``max_pool_3x3_`` are also importable from ``ulsam.py``.

- ``pooled_pointwise`` (cache-sized chunks) and ``pooled_pointwise_c`` (the compiled C kernel)
  fold the eval-mode BatchNorm of eq. ulsam-dw into an affine: eager inference in eval mode on a
  CPU only (``use_fast_path(..., cpu_only=True)``); the kernel also needs ``c_kernel_applies``.
- ``max_pool_3x3_``: the pool in place, for eager inference on a CPU in either mode.
- ``depthwise_1x1``: the depthwise convolution as the multiply-add it is, a plain differentiable
  operation, valid in training too (the same numbers up to float rounding).

No ``from __future__ import annotations`` here: TorchScript reads the signatures of the
``@torch.jit.unused`` functions below as written, and cannot resolve string annotations there.
"""

from types import ModuleType
from typing import Optional

import torch
from torch import Tensor

from .._compat import is_compiling, is_in_torch_dispatch_mode

C_KERNEL: Optional[ModuleType]
try:  # built by pip from _ulsam_kernel.c where a C compiler is at hand (setup.py)
    from . import _ulsam_kernel as C_KERNEL
except ImportError:
    C_KERNEL = None


def max_pool_3x3_(z: Tensor) -> Tensor:
    """3x3 max pooling, stride 1, padding 1, for inference: overwrites ``z`` and returns it.

    Equals ``F.max_pool2d(z, 3, stride=1, padding=1)``. PyTorch's channels-first 3x3 max-pool
    is ~10-20x slower on a CPU than these element-wise maxima: a pass along W into one scratch
    tensor, then a pass along H back into ``z``. Each line reads and writes the same elements,
    so the in-place updates are safe; out= updates do not support autograd.
    """
    w = z.clone()
    torch.maximum(w[..., 1:], z[..., :-1], out=w[..., 1:])  # w_j = max(z_j, z_{j-1})
    torch.maximum(w[..., :-1], z[..., 1:], out=w[..., :-1])  # w_j = max(z_{j-1}, z_j, z_{j+1})
    z[..., 0, :] = w[..., 0, :]
    torch.maximum(w[..., 1:, :], w[..., :-1, :], out=z[..., 1:, :])  # the same along H
    torch.maximum(z[..., :-1, :], w[..., 1:, :], out=z[..., :-1, :])
    return z


#: Bytes of each of ``pooled_pointwise``'s three framed scratch buffers. The intra-op threads split
#: every operation, so on two threads each core holds 1.5 MiB of scratch, inside its L2 cache
#: (2 MiB on the Xeon where this was measured), and the pool's passes run from the cache rather
#: than from memory. There, at the four ResNet-50 stage shapes, 1 MiB beat 2 MiB by about 10% on
#: one thread and on two.
CHUNK_BYTES = 1 << 20


def pooled_pointwise(
    x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor, chunk_bytes: int = CHUNK_BYTES
) -> Tensor:
    """Inference form of ``u = conv_point(maxpool_3x3(ReLU(scale ⊙ x + shift)))``, shape (N, G, H, W).

    It equals the literal steps of eq. ulsam-dw and ulsam-pw, but never writes a full-size
    intermediate tensor. Three ideas:

    1. ReLU(s x + b) = max(s x, -b) + b. A max with a per-channel floor commutes with the
       max-pool, so it runs after the pool, on the small pooled chunk; the "+ b" passes
       unchanged through the pool and the weighted channel sum and joins the pointwise bias:
       bias + sum_c w_c b_c.
    2. Each plane s x is written into a frame one pixel wider on every side, filled with -inf,
       which never wins a max. In the flat array, row neighbours are 1 element apart and
       column neighbours W + 2 apart, so the 3x3 max is two ``_max3`` calls with no edge
       cases. Frame positions outside the image get values that are computed and dropped.
    3. A few subspaces at a time: the scratch (three buffers of ``chunk_bytes``) stays in the
       CPU's L2 cache, and x is read from memory once.

    Args:
        x: (N, C, H, W). scale, shift: (C,), the depthwise conv and its BN folded into one affine.
        weight: (G, C/G) and bias: (G,), the grouped pointwise conv.
        chunk_bytes: scratch size that sets how many subspaces go per chunk (at least one).
    """
    n, c, h, w = x.shape
    g, width = weight.shape
    hp, wp = h + 2, w + 2
    floor = -shift
    bias = _bias_with_shift(weight, shift, bias)  # idea 1
    plane_scale, plane_floor = scale.repeat(n).view(-1, 1, 1), floor.repeat(n).view(-1, 1, 1)
    subspace_weight = weight.view(g, 1, width).repeat(n, 1, 1)
    per_chunk = max(1, min(n * g, chunk_bytes // (width * hp * wp * x.element_size())))  # 1 if N = 0
    framed = x.new_full((per_chunk * width, hp, wp), float("-inf"))  # idea 2
    inside, framed_flat = framed[:, 1:-1, 1:-1], framed.view(-1)
    rows, pooled = torch.zeros_like(framed_flat), torch.zeros_like(framed_flat)
    u = x.new_empty(n * g, 1, hp * wp)
    planes = x.contiguous().view(n * c, h, w)
    for s0 in range(0, n * g, per_chunk):  # idea 3: subspaces s0 .. s1-1, planes p0 .. p1-1
        s1 = min(s0 + per_chunk, n * g)
        p0, p1 = s0 * width, s1 * width
        length = (p1 - p0) * hp * wp
        torch.mul(planes[p0:p1], plane_scale[p0:p1], out=inside[: p1 - p0])
        _max3(framed_flat[:length], rows[:length], 1)  # along W
        _max3(rows[:length], pooled[:length], wp)  # along H
        chunk = pooled[:length].view(p1 - p0, hp, wp)
        torch.maximum(chunk, plane_floor[p0:p1], out=chunk)  # idea 1, after the pool
        torch.bmm(subspace_weight[s0:s1], pooled[:length].view(s1 - s0, width, hp * wp), out=u[s0:s1])
    return u.view(n, g, hp, wp)[:, :, :h, :w] + bias.view(1, g, 1, 1)


@torch.jit.unused
def pooled_pointwise_c(x: Tensor, scale: Tensor, shift: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """``pooled_pointwise`` by the compiled C kernel (``C_KERNEL``): one pass over x, same numbers.

    The kernel reads each plane of x once, keeps its three-wide row maxima in a small buffer
    and adds the weighted, floored column maxima to u, so x crosses the memory bus once where
    ``pooled_pointwise`` makes seven passes over each cache-sized chunk: about 1.8 x floor
    against 8 at (8, 256, 56, 56) on 2 threads. Only the order of the sum over a subspace's
    channels differs (float32 rounding, about 1e-6 relative). One deliberate difference: a NaN
    among a subspace's products scale * x (a NaN in x, or 0 times an infinity) makes all of its
    u NaN, not just the 3x3 windows around it (the softmax over the map that follows in ULSAM
    spreads it so in the official code too).

    Arguments as ``pooled_pointwise``; x must be a float32 CPU tensor. On Linux the kernel runs
    on ``torch.get_num_threads()`` threads of PyTorch's own OpenMP pool, each taking whole
    subspaces; elsewhere on one thread.
    """
    if C_KERNEL is None:
        raise RuntimeError("the C kernel was not built (no C compiler at install time); use pooled_pointwise")
    if x.dim() != 4 or x.dtype != torch.float32 or x.device.type != "cpu":
        raise ValueError(f"x must be a 4-D float32 CPU tensor; got {x.dim()}-D {x.dtype} on {x.device}")
    n, c, h, w = x.shape
    g, width = weight.shape
    if g * width != c or scale.shape != (c,) or shift.shape != (c,) or bias.shape != (g,):
        raise ValueError(
            f"weight (G, C/G) = {tuple(weight.shape)} must match x's C={c}, with scale and shift of shape "
            f"({c},) and bias of shape ({g},); got {tuple(scale.shape)}, {tuple(shift.shape)}, "
            f"{tuple(bias.shape)}"
        )
    x = x.contiguous()
    scale, floor, flat_weight = (t.detach().to(torch.float32).contiguous() for t in (scale, -shift, weight))
    u = x.new_empty(n, g, h, w)
    pointers = [t.data_ptr() for t in (x, scale, floor, flat_weight, u)]
    C_KERNEL.pooled_pointwise(*pointers, n, g, width, h, w, torch.get_num_threads())
    return u.add_(_bias_with_shift(weight, shift, bias).view(1, g, 1, 1))


@torch.jit.unused
def c_kernel_applies(x: Tensor) -> bool:
    """Whether ``pooled_pointwise_c`` may replace ``pooled_pointwise`` for this x.

    The kernel reads raw memory behind PyTorch's back, so it takes plain float32 CPU tensors
    only, and never while a tracer, a compiler or a dispatch mode watches (ONNX export, FLOP
    and memory-traffic counters must see the PyTorch operations).
    """
    return (
        C_KERNEL is not None
        and x.numel() > 0  # an empty batch: PyTorch's operations return it as it is
        and type(x) is Tensor
        and x.dtype == torch.float32
        and x.device.type == "cpu"
        and not torch.jit.is_tracing()
        and not is_compiling()
        and not is_in_torch_dispatch_mode()
    )


def _bias_with_shift(weight: Tensor, shift: Tensor, bias: Tensor) -> Tensor:
    """The pointwise bias plus the "+ b" of idea 1 carried through the pool: bias + sum_c w_c b_c, (G,)."""
    return bias + (weight * shift.view(weight.shape)).sum(1)


def _max3(src: Tensor, dst: Tensor, step: int) -> None:
    """dst[i] = max(src[i], src[i + step], src[i + 2 step]) wherever all three exist."""
    m = src.numel() - 2 * step
    torch.maximum(src[:m], src[step : m + step], out=dst[:m])
    torch.maximum(dst[:m], src[2 * step :], out=dst[:m])


def depthwise_1x1(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """A depthwise 1x1 convolution (weight (C, 1, 1, 1), bias (C,)) as the per-channel multiply-add
    it is, w_c x_c + b_c: on a CPU its backward is faster than the convolution's (a training
    step at (8, 256, 56, 56) about 5% faster)."""
    assert bias is not None  # narrows the Optional type for TorchScript
    return torch.addcmul(bias.view(1, -1, 1, 1), x, weight.view(1, -1, 1, 1))
