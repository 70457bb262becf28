"""Ultra-Lightweight Subspace Attention Module (ULSAM), Saini, Jha and Das, WACV 2020.

ULSAM splits the C channels into G subspaces of c' = C/G channels and learns one spatial
map per subspace (chapter 05)::

    z   = ReLU(BN(w_dw ⊙ x_g + b_dw))           depthwise 1x1 convolution    (eq. ulsam-dw)
    z   = maxpool_3x3(z)                          stride 1, padding 1, see ``max_pool_3x3_``
    u   = ReLU(BN(sum_c w_pw,c z_c + b_pw))       pointwise c' -> 1            (eq. ulsam-pw)
    m_g = softmax over all H*W positions of u    one map, sums to 1            (eq. ulsam-softmax)
    y_g = m_g ⊙ x_g + x_g                         residual                      (eq. ulsam-out)

and concatenates the subspaces. Parameters: 5C + 3G.

All subspaces run at once: the depthwise convolution and its BatchNorm act on all C channels
(they are per-channel anyway) and the G pointwise convolutions are one grouped convolution
Conv2d(C, G, 1, groups=G). There is no Python loop over subspaces.

BatchNorm momentum: the official code passes ``momentum=0.9``. In PyTorch that weights the
new batch by 90% (Keras' convention is the opposite), which is most likely a slip; it is the
default here for fidelity and can be changed with ``bn_momentum``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_batchnorm_values, check_input, check_positive_int


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


class ULSAM(nn.Module):
    """ULSAM block with G subspaces.

    Args:
        channels: C, divisible by G.
        groups: G, the number of subspaces (default 4, as in the paper's MobileNetV2 result).
        bn_momentum: PyTorch BatchNorm momentum (official 0.9; PyTorch's usual value is 0.1).

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

    def maps(self, x: Tensor) -> Tensor:
        """The subspace maps m_g of eq. ulsam-softmax, shape (N, G, H, W); each sums to 1 over H x W."""
        check_input(x, self.channels)
        n, _, h, w = x.shape
        check_batchnorm_values(self.training, n * h * w, "ULSAM's BatchNorm", list(x.shape))
        z = self._depthwise(x)
        # autograd gets PyTorch's pool; inference the faster in-place maxima on the fresh z
        z = F.max_pool2d(z, 3, stride=1, padding=1) if torch.is_grad_enabled() else max_pool_3x3_(z)
        u = F.relu(self.bn_point(self.conv_point(z)))  # eq. ulsam-pw
        return torch.softmax(u.reshape(n, self.groups, h * w), dim=2).reshape(n, self.groups, h, w)

    def _depthwise(self, x: Tensor) -> Tensor:
        """ReLU(BN(w_dw ⊙ x + b_dw)), eq. ulsam-dw. In eval mode BN is a fixed per-channel affine,
        so the three steps fold into one multiply-add and an in-place ReLU."""
        if self.training:
            return F.relu(self.bn_dws(self.conv_dws(x)))
        mean, var, gamma, beta = self.bn_dws.running_mean, self.bn_dws.running_var, self.bn_dws.weight, self.bn_dws.bias
        bias = self.conv_dws.bias
        # the layers always have these tensors; the check narrows Optional types for TorchScript
        assert mean is not None and var is not None and gamma is not None and beta is not None and bias is not None
        inv_std = gamma * torch.rsqrt(var + self.bn_dws.eps)
        scale = self.conv_dws.weight.view(-1) * inv_std
        shift = (bias - mean) * inv_std + beta
        # x * scale + shift via BatchNorm's inference kernel (mean 0, variance 1, eps 0): one
        # vectorised pass, about twice as fast on a CPU as the equivalent broadcast addcmul
        zero, one = torch.zeros_like(scale), torch.ones_like(scale)
        return F.batch_norm(x, zero, one, scale, shift, False, 0.0, 0.0).relu_()

    def forward(self, x: Tensor) -> Tensor:
        m = self.maps(x)  # checks x first
        n, c, h, w = x.shape
        x_sub = x.reshape(n, self.groups, c // self.groups, h, w)
        # eq. ulsam-out: m ⊙ x + x, with the subspace's one map broadcast over its channels
        return torch.addcmul(x_sub, m[:, :, None], x_sub).reshape(n, c, h, w)

    def attention_maps(self, x: Tensor) -> dict[str, Tensor]:
        """``{"spatial": (N, G, H, W)}``, one softmax map per subspace."""
        return {"spatial": self.maps(x)}
