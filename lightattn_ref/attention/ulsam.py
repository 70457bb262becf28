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
(they are per-channel anyway), and the G pointwise convolutions, held as one grouped
Conv2d(C, G, 1, groups=G), are applied as the weighted sums of eq. ulsam-pw over each
subspace's channels (``_pointwise``). There is no Python loop over subspaces.

This file is the textbook form. With ``fast=True`` (default) inference on a CPU (eval mode, no
autograd) computes the same u with ``pooled_pointwise``, which walks through the subspaces in
cache-sized chunks so that no full-size intermediate tensor is written. Where pip could compile
the package's small C kernel (``C_KERNEL``, see ``pooled_pointwise_c``), inference computes u
in one pass over x instead, several times faster; ``ULSAM.use_c_kernel = False`` turns it off.
Both live in ``ulsam_fast.py``, which says where each of its paths is valid.

BatchNorm momentum: the official code (Nandan91/ULSAM ``ulsam.py``) passes ``momentum=0.9``. In
PyTorch that weights the new batch by 90% (Keras' convention is the opposite), which is most likely
a slip; it is the default here for fidelity and can be changed with ``bn_momentum``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import ops, ulsam_fast
from ._batchnorm import eval_batchnorm_affine
from ._checks import (
    check_batchnorm_values,
    check_input,
    check_positive_int,
    use_compiled_op,
    use_fast_path,
)
from .ulsam_fast import C_KERNEL, CHUNK_BYTES, max_pool_3x3_, pooled_pointwise, pooled_pointwise_c

__all__ = ["C_KERNEL", "CHUNK_BYTES", "ULSAM", "c_kernel_applies", "max_pool_3x3_", "pooled_pointwise",
           "pooled_pointwise_c"]
c_kernel_applies = ulsam_fast.c_kernel_applies


class ULSAM(nn.Module):
    """ULSAM block with G subspaces.

    Args:
        channels: C, divisible by G.
        groups: G, the number of subspaces (default 4, as in the paper's MobileNetV2 result).
        bn_momentum: PyTorch BatchNorm momentum (official 0.9; PyTorch's usual value is 0.1).
        fast: take the fast paths of ``ulsam_fast.py`` where valid (the same maps; False always
            runs the textbook form below). Settable later: ``m.fast``.
        device, dtype: where and in which dtype to create the parameters, as for PyTorch's layers.

    Two more attributes steer the inference fast path and leave the outputs as they are:
    ``use_c_kernel`` (default True) pools with the compiled C kernel where it is built, False
    gives the PyTorch path (see ``pooled_pointwise_c`` and ``c_kernel_applies``), and
    ``chunk_bytes`` is the PyTorch path's scratch per chunk (see ``pooled_pointwise``).

    Shape: x (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(
        self,
        channels: int,
        *,
        groups: int = 4,
        bn_momentum: float = 0.9,
        fast: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.channels = check_positive_int("channels", channels)
        self.groups = check_positive_int("groups", groups)
        if channels % groups != 0:
            raise ValueError(f"channels={channels} must be divisible by groups={groups} (equal subspaces)")
        self.fast = fast
        factory = {"device": device, "dtype": dtype}
        self.conv_dws = nn.Conv2d(channels, channels, 1, groups=channels, **factory)
        self.bn_dws = nn.BatchNorm2d(channels, momentum=bn_momentum, **factory)
        self.conv_point = nn.Conv2d(channels, groups, 1, groups=groups, **factory)
        self.bn_point = nn.BatchNorm2d(groups, momentum=bn_momentum, **factory)
        self.chunk_bytes = CHUNK_BYTES  # the inference path's scratch per chunk, see pooled_pointwise
        self.use_c_kernel = True  # inference pools with C_KERNEL where it is built, see pooled_pointwise_c

    def maps(self, x: Tensor) -> Tensor:
        """The subspace maps a_g of eq. ulsam-softmax, shape (N, G, H, W); each sums to 1 over H x W."""
        check_input(x, self.channels)
        n, _, h, w = x.shape
        check_batchnorm_values(self.training, n * h * w, "ULSAM's BatchNorm", list(x.shape))
        if use_compiled_op(self.fast, self.training) and x.device.type == "cpu":  # under torch.compile
            u = self._fast_pooled_pointwise(x, compiled=True)
        elif use_fast_path(self.fast, self.training, x, cpu_only=True):  # folds bn_dws: eval mode only
            u = self._fast_pooled_pointwise(x)
        else:
            z = F.relu(self.bn_dws(self._depthwise_conv(x)))  # eq. ulsam-dw
            if use_fast_path(self.fast, False, z, cpu_only=True):
                z = ulsam_fast.max_pool_3x3_(z)  # z is fresh: pooling it in place is safe
            else:
                z = F.max_pool2d(z, 3, stride=1, padding=1)
            u = self._pointwise(z)
        u = F.relu(self.bn_point(u))  # eq. ulsam-pw
        return torch.softmax(u.reshape(n, self.groups, h * w), dim=2).reshape(n, self.groups, h, w)

    def _pointwise(self, z: Tensor) -> Tensor:
        """u_g = sum over subspace g's channels c of w_c z_c, + b_g (eq. ulsam-pw), shape (N, G, H, W).

        conv_point written out as the sums it makes rather than called as a grouped convolution:
        then ``torch.compile`` sees no convolution (on a CPU, Inductor switches a graph with one
        to channels-last), and the compiled training step ran about twice as fast.
        """
        n, c, h, w = z.shape
        g = self.groups
        # one (1, C/G) @ (C/G, H*W) product per image and subspace: a view of z, no copy, and
        # counted by torch.utils.flop_counter as the convolution's C*H*W multiply-adds
        u = torch.matmul(self._pointwise_weight().view(1, g, 1, c // g), z.view(n, g, c // g, h * w))
        return u.view(n, g, h, w) + self._pointwise_bias().view(1, g, 1, 1)

    def _depthwise_conv(self, x: Tensor) -> Tensor:
        """w_dw ⊙ x + b_dw of eq. ulsam-dw; ``fast`` computes it as a multiply-add, valid in training too."""
        if self.fast:
            return ulsam_fast.depthwise_1x1(x, self.conv_dws.weight, self.conv_dws.bias)
        return self.conv_dws(x)

    def _fast_pooled_pointwise(self, x: Tensor, compiled: bool = False) -> Tensor:
        """conv_point(maxpool_3x3(ReLU(BN(conv_dws(x))))) by the C kernel or in cache-sized chunks;
        ``compiled``: as the one operator that torch.compile calls as it is (ops.py)."""
        scale, shift = self._folded_depthwise()
        weight, bias = self._pointwise_weight(), self._pointwise_bias()
        if compiled:
            return ops.ulsam_pooled_pointwise(x, scale, shift, weight, bias, self.chunk_bytes, self.use_c_kernel)
        return ops.pooled_pointwise(x, scale, shift, weight, bias, self.chunk_bytes, self.use_c_kernel)

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

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, groups={self.groups}, bn_momentum={self.bn_dws.momentum}, "
            f"fast={self.fast}, use_c_kernel={self.use_c_kernel}"
        )
