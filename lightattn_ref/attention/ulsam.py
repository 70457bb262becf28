"""Ultra-Lightweight Subspace Attention Module (ULSAM), Saini, Jha and Das, WACV 2020.

ULSAM splits the C channels into G subspaces of c' = C/G channels and learns one spatial
map per subspace (chapter 05)::

    z   = ReLU(BN(w_dw ⊙ x_g + b_dw))           depthwise 1x1 convolution    (eq. ulsam-dw)
    z   = maxpool_3x3(z)                          stride 1, padding 1, see ``max_pool_3x3_``
    u   = ReLU(BN(sum_c w_pw,c z_c + b_pw))       pointwise c' -> 1            (eq. ulsam-pw)
    a_g = softmax over all H*W positions of u    one map, sums to 1            (eq. ulsam-softmax)
    y_g = a_g ⊙ x_g + x_g                         residual                      (eq. ulsam-out)

and concatenates the subspaces. Parameters: 5C + 3G.

All subspaces run at once: the depthwise convolution and its BatchNorm act on all C channels
(they are per-channel anyway) and the G pointwise convolutions are one grouped convolution
Conv2d(C, G, 1, groups=G). There is no Python loop over subspaces. Inference (eval mode, no
autograd) computes the same u with ``pooled_pointwise``, which walks through the subspaces in
cache-sized chunks so that no full-size intermediate tensor is written. Where pip could compile
the package's small C kernel (``C_KERNEL``, see ``pooled_pointwise_c``), inference computes u
in one pass over x instead, several times faster; ``ULSAM.use_c_kernel = False`` turns it off.

BatchNorm momentum: the official code passes ``momentum=0.9``. In PyTorch that weights the
new batch by 90% (Keras' convention is the opposite), which is most likely a slip; it is the
default here for fidelity and can be changed with ``bn_momentum``.
"""

from types import ModuleType
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils._python_dispatch import is_in_torch_dispatch_mode

from ._batchnorm import eval_batchnorm_affine
from ._checks import check_batchnorm_values, check_input, check_positive_int, eager_inference

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
            f"({c},) and bias of shape ({g},); got {tuple(scale.shape)}, {tuple(shift.shape)}, {tuple(bias.shape)}"
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
        and not torch.compiler.is_compiling()
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


class ULSAM(nn.Module):
    """ULSAM block with G subspaces.

    Args:
        channels: C, divisible by G.
        groups: G, the number of subspaces (default 4, as in the paper's MobileNetV2 result).
        bn_momentum: PyTorch BatchNorm momentum (official 0.9; PyTorch's usual value is 0.1).

    Two attributes steer inference (eval mode without autograd) and leave the outputs as they
    are: ``use_c_kernel`` (default True) pools with the compiled C kernel where it is built,
    False gives the PyTorch path (see ``pooled_pointwise_c`` and ``c_kernel_applies``), and
    ``chunk_bytes`` is the PyTorch path's scratch per chunk (see ``pooled_pointwise``).

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, *, groups: int = 4, bn_momentum: float = 0.9) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.groups = check_positive_int("groups", groups)
        if channels % groups != 0:
            raise ValueError(f"channels={channels} must be divisible by groups={groups} (equal subspaces)")
        self.conv_dws = nn.Conv2d(channels, channels, 1, groups=channels)
        self.bn_dws = nn.BatchNorm2d(channels, momentum=bn_momentum)
        self.conv_point = nn.Conv2d(channels, groups, 1, groups=groups)
        self.bn_point = nn.BatchNorm2d(groups, momentum=bn_momentum)
        self.chunk_bytes = CHUNK_BYTES  # the inference path's scratch per chunk, see pooled_pointwise
        self.use_c_kernel = True  # inference pools with C_KERNEL where it is built, see pooled_pointwise_c

    def maps(self, x: Tensor) -> Tensor:
        """The subspace maps a_g of eq. ulsam-softmax, shape (N, G, H, W); each sums to 1 over H x W."""
        check_input(x, self.channels)
        n, _, h, w = x.shape
        check_batchnorm_values(self.training, n * h * w, "ULSAM's BatchNorm", list(x.shape))
        if not eager_inference(self.training):
            z = F.relu(self.bn_dws(self._depthwise_conv(x)))  # eq. ulsam-dw
            # autograd and compilers get PyTorch's pool; eager inference in training mode the in-place maxima
            in_place = eager_inference(training=False)
            z = max_pool_3x3_(z) if in_place else F.max_pool2d(z, 3, stride=1, padding=1)
            u = self.conv_point(z)
        else:
            scale, shift = self._folded_depthwise()
            weight, bias = self._pointwise_weight(), self._pointwise_bias()
            if torch.jit.is_scripting() or not (self.use_c_kernel and c_kernel_applies(x)):
                u = pooled_pointwise(x, scale, shift, weight, bias, self.chunk_bytes)
            else:
                u = pooled_pointwise_c(x, scale, shift, weight, bias)
        u = F.relu(self.bn_point(u))  # eq. ulsam-pw
        return torch.softmax(u.reshape(n, self.groups, h * w), dim=2).reshape(n, self.groups, h, w)

    def _depthwise_conv(self, x: Tensor) -> Tensor:
        """conv_dws(x) as the per-channel multiply-add it is: on a CPU its backward is faster
        than a depthwise convolution's (a training step at (8, 256, 56, 56) about 5% faster)."""
        bias = self.conv_dws.bias
        assert bias is not None
        return torch.addcmul(bias.view(1, -1, 1, 1), x, self.conv_dws.weight.view(1, -1, 1, 1))

    def _folded_depthwise(self) -> tuple[Tensor, Tensor]:
        """(scale, shift) with BN(w_dw ⊙ x + b_dw) = scale ⊙ x + shift in eval mode, each (C,)."""
        bn = self.bn_dws
        scale, shift = eval_batchnorm_affine(bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps)
        bias = self.conv_dws.bias
        assert bias is not None  # narrows the Optional type for TorchScript
        return self.conv_dws.weight.view(-1) * scale, bias * scale + shift

    def _pointwise_weight(self) -> Tensor:
        return self.conv_point.weight.view(self.groups, -1)

    def _pointwise_bias(self) -> Tensor:
        bias = self.conv_point.bias
        assert bias is not None
        return bias

    def forward(self, x: Tensor) -> Tensor:
        m = self.maps(x)  # checks x first
        n, c, h, w = x.shape
        x_sub = x.reshape(n, self.groups, c // self.groups, h, w)
        # eq. ulsam-out: a ⊙ x + x, with the subspace's one map broadcast over its channels
        return torch.addcmul(x_sub, m[:, :, None], x_sub).reshape(n, c, h, w)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"spatial": (N, G, H, W)}``, one softmax map per subspace."""
        return {"spatial": self.maps(x)}
