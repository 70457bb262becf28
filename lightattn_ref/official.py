"""Literal transcriptions of the official implementations, for comparison only.

Each class repeats the official code's sequence of operations and its state-dict layout
(hujie-frank/SENet via its bias-free PyTorch port moskomule/senet.pytorch, BangguWu/ECANet,
Jongchan/attention-module, wofmanaf/SA-Net, Nandan91/ULSAM, houqb/CoordAttention), written
so it runs on a CPU. Tests use them to check ``from_official`` and our faster forward
passes; the benchmark times them; chapters show them next to the package's modules.
Use the modules in ``lightattn_ref.attention`` for real work: these have no input checks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SELayer(nn.Module):
    """SE as in the popular PyTorch port: bias-free FCs, keys ``fc.0.weight``, ``fc.2.weight``."""

    def __init__(self, channel: int, reduction: int = 16) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Sequential(
            nn.Linear(channel, channel // reduction, bias=False),
            nn.ReLU(inplace=True),
            nn.Linear(channel // reduction, channel, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x: Tensor) -> Tensor:
        b, c = x.shape[:2]
        y = self.avg_pool(x).view(b, c)
        y = self.fc(y).view(b, c, 1, 1)
        return x * y.expand_as(x)


class ECALayer(nn.Module):
    """ECA's official layer: fixed k (default 3), the ``channel`` argument unused as upstream."""

    def __init__(self, channel: int, k_size: int = 3) -> None:
        super().__init__()
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv1d(1, 1, kernel_size=k_size, padding=(k_size - 1) // 2, bias=False)
        self.sigmoid = nn.Sigmoid()

    def forward(self, x: Tensor) -> Tensor:
        y = self.avg_pool(x)
        y = self.conv(y.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        return x * self.sigmoid(y).expand_as(x)


class BasicConv(nn.Module):
    """CBAM's conv + BN (eps 1e-5, momentum 0.01) + optional ReLU."""

    def __init__(self, in_planes: int, out_planes: int, kernel_size: int, padding: int, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_planes, out_planes, kernel_size, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(out_planes, eps=1e-5, momentum=0.01, affine=True)
        self.relu = nn.ReLU() if relu else None

    def forward(self, x: Tensor) -> Tensor:
        x = self.bn(self.conv(x))
        return self.relu(x) if self.relu is not None else x


class ChannelGate(nn.Module):
    """CBAM's channel gate with pool types avg then max, keys ``mlp.1.*`` and ``mlp.3.*``."""

    def __init__(self, gate_channels: int, reduction_ratio: int = 16) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Flatten(),
            nn.Linear(gate_channels, gate_channels // reduction_ratio),
            nn.ReLU(),
            nn.Linear(gate_channels // reduction_ratio, gate_channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        size = (x.size(2), x.size(3))
        avg = self.mlp(F.avg_pool2d(x, size, stride=size))
        mx = self.mlp(F.max_pool2d(x, size, stride=size))
        scale = torch.sigmoid(avg + mx).unsqueeze(2).unsqueeze(3).expand_as(x)
        return x * scale


class SpatialGate(nn.Module):
    """CBAM's spatial gate: [max, mean] over channels -> BasicConv(2, 1, 7) -> sigmoid."""

    def __init__(self) -> None:
        super().__init__()
        self.spatial = BasicConv(2, 1, 7, padding=3, relu=False)

    def forward(self, x: Tensor) -> Tensor:
        compressed = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)
        return x * torch.sigmoid(self.spatial(compressed))


class CBAM(nn.Module):
    """CBAM, keys ``ChannelGate.*`` and ``SpatialGate.*`` as in the official checkpoints."""

    def __init__(self, gate_channels: int, reduction_ratio: int = 16) -> None:
        super().__init__()
        self.ChannelGate = ChannelGate(gate_channels, reduction_ratio)
        self.SpatialGate = SpatialGate()

    def forward(self, x: Tensor) -> Tensor:
        return self.SpatialGate(self.ChannelGate(x))


class SALayer(nn.Module):
    """SA-Net's sa_layer: group fold, chunk, pool / GroupNorm, affines, cat, shuffle."""

    def __init__(self, channel: int, groups: int = 64) -> None:
        super().__init__()
        self.groups = groups
        m = channel // (2 * groups)
        self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.cweight = nn.Parameter(torch.zeros(1, m, 1, 1))
        self.cbias = nn.Parameter(torch.ones(1, m, 1, 1))
        self.sweight = nn.Parameter(torch.zeros(1, m, 1, 1))
        self.sbias = nn.Parameter(torch.ones(1, m, 1, 1))
        self.sigmoid = nn.Sigmoid()
        self.gn = nn.GroupNorm(m, m)

    @staticmethod
    def channel_shuffle(x: Tensor, groups: int) -> Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b, groups, -1, h, w).permute(0, 2, 1, 3, 4)
        return x.reshape(b, -1, h, w)

    def forward(self, x: Tensor) -> Tensor:
        b, c, h, w = x.shape
        x = x.reshape(b * self.groups, -1, h, w)
        x_0, x_1 = x.chunk(2, dim=1)
        xn = self.avg_pool(x_0)
        xn = self.cweight * xn + self.cbias
        xn = x_0 * self.sigmoid(xn)
        xs = self.gn(x_1)
        xs = self.sweight * xs + self.sbias
        xs = x_1 * self.sigmoid(xs)
        out = torch.cat([xn, xs], dim=1).reshape(b, -1, h, w)
        return self.channel_shuffle(out, 2)


class SubSpace(nn.Module):
    """One ULSAM subspace, as upstream (BatchNorm momentum 0.9, softmax over H*W)."""

    def __init__(self, nin: int) -> None:
        super().__init__()
        self.conv_dws = nn.Conv2d(nin, nin, kernel_size=1, groups=nin)
        self.bn_dws = nn.BatchNorm2d(nin, momentum=0.9)
        self.relu_dws = nn.ReLU(inplace=False)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.conv_point = nn.Conv2d(nin, 1, kernel_size=1)
        self.bn_point = nn.BatchNorm2d(1, momentum=0.9)
        self.relu_point = nn.ReLU(inplace=False)
        self.softmax = nn.Softmax(dim=2)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu_dws(self.bn_dws(self.conv_dws(x)))
        out = self.maxpool(out)
        out = self.relu_point(self.bn_point(self.conv_point(out)))
        m, n, p, q = out.shape
        out = self.softmax(out.view(m, n, -1)).view(m, n, p, q)
        out = out.expand(x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return torch.mul(out, x) + x


class ULSAMLayer(nn.Module):
    """ULSAM: a Python loop over subspaces; keys ``subspaces.{i}.*`` (unused nout/h/w dropped)."""

    def __init__(self, nin: int, num_splits: int) -> None:
        super().__init__()
        self.nin = nin
        self.num_splits = num_splits
        self.subspaces = nn.ModuleList([SubSpace(nin // num_splits) for _ in range(num_splits)])

    def forward(self, x: Tensor) -> Tensor:
        sub_feat = torch.chunk(x, self.num_splits, dim=1)
        return torch.cat([space(feat) for space, feat in zip(self.subspaces, sub_feat)], dim=1)


class HSwish(nn.Module):
    """h_swish(x) = x * ReLU6(x + 3) / 6."""

    def forward(self, x: Tensor) -> Tensor:
        return x * F.relu6(x + 3) / 6


class CoordAtt(nn.Module):
    """Coordinate Attention as upstream: adaptive pools, keys conv1, bn1, conv_h, conv_w."""

    def __init__(self, inp: int, oup: int, reduction: int = 32) -> None:
        super().__init__()
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        mip = max(8, inp // reduction)
        self.conv1 = nn.Conv2d(inp, mip, kernel_size=1)
        self.bn1 = nn.BatchNorm2d(mip)
        self.act = HSwish()
        self.conv_h = nn.Conv2d(mip, oup, kernel_size=1)
        self.conv_w = nn.Conv2d(mip, oup, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        identity = x
        h, w = x.shape[2], x.shape[3]
        x_h = self.pool_h(x)
        x_w = self.pool_w(x).permute(0, 1, 3, 2)
        y = self.act(self.bn1(self.conv1(torch.cat([x_h, x_w], dim=2))))
        x_h, x_w = torch.split(y, [h, w], dim=2)
        a_h = self.conv_h(x_h).sigmoid()
        a_w = self.conv_w(x_w.permute(0, 1, 3, 2)).sigmoid()
        return identity * a_w * a_h


def make_official(name: str, channels: int, **options: int) -> nn.Module:
    """The transcription for registry name ``name`` (``options``: reduction, kernel_size, groups)."""
    from .specs import spec  # the table imports this module's classes

    build = spec(name).official
    if build is None:
        raise ValueError(f"name={name!r} has no official transcription")
    return build(channels, **options)
