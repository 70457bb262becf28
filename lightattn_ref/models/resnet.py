"""ResNet-18 / ResNet-50 with an optional attention module in every residual block.

With ``attention=None`` these are torchvision's ``resnet18`` / ``resnet50``: same layers, same
state-dict keys (``conv1``, ``layer1.0.conv1``, ``layer2.0.downsample.0``, ``fc``, ...), same
parameter counts (11,689,512 and 25,557,032) and the same initialisation, so torchvision
checkpoints load with ``strict=True``.

With ``attention="se"`` (or any name in ``ATTENTION_NAMES``) each block computes::

    y = relu( A(BN(conv(... x))) + shortcut(x) )

A is placed where SE, CBAM, ECA and SA put it in their official code: after the last BN of the
residual branch (bn2 in ``BasicBlock``, bn3 in ``Bottleneck``), before the residual add. It is
the block's ``attention`` submodule; without attention nothing is registered, so the keys match.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ._common import check_attention_args, init_backbone, maybe_attention, stage_options


def conv3x3(inp: int, out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inp, out, 3, stride=stride, padding=1, bias=False)


def conv1x1(inp: int, out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(inp, out, 1, stride=stride, bias=False)


def downsample(inp: int, out: int, stride: int) -> nn.Sequential | None:
    """Projection shortcut (keys ``downsample.0``/``.1``) when the shape changes, else identity (None)."""
    if stride == 1 and inp == out:
        return None
    return nn.Sequential(conv1x1(inp, out, stride), nn.BatchNorm2d(out))


class BasicBlock(nn.Module):
    """ResNet-18/34 block: two 3x3 convs, attention after bn2, then the residual add.

    Shape: x (N, inplanes, H, W) -> (N, planes, H / stride, W / stride).
    """

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, attention: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.attention = attention  # None registers no keys: the state dict stays torchvision's
        self.downsample = downsample(inplanes, planes, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.attention is not None:
            out = self.attention(out)  # re-weights the branch only; the shortcut stays untouched
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """ResNet-50 block: 1x1 reduce, 3x3 (stride here, as torchvision's "v1.5"), 1x1 expand x4,
    attention after bn3, then the residual add.

    Shape: x (N, inplanes, H, W) -> (N, 4 * planes, H / stride, W / stride).
    """

    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, attention: nn.Module | None = None
    ) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, out)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.attention = attention
        self.downsample = downsample(inplanes, out, stride)

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.attention is not None:
            out = self.attention(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(nn.Module):
    """ResNet for 224x224 ImageNet-style inputs (any H, W >= 32 works).

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        layers: blocks per stage, e.g. [2, 2, 2, 2] (ResNet-18) or [3, 4, 6, 3] (ResNet-50).
        attention: a name from ``ATTENTION_NAMES`` or ``None``.
        num_classes: outputs of ``fc``.
        **options: passed to ``make_attention``; a tuple/list value gives one entry per stage.

    Shape: x (N, 3, H, W) -> logits (N, num_classes).
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        attention: str | None = None,
        num_classes: int = 1000,
        **options: Any,
    ) -> None:
        super().__init__()
        check_attention_args(attention, options, num_classes)
        per_stage = stage_options(options, len(layers))
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        inplanes = 64
        for i, (blocks, opts) in enumerate(zip(layers, per_stage)):
            planes = 64 * 2**i
            stage = []
            for j in range(blocks):
                stride = 2 if i > 0 and j == 0 else 1  # the first block of stages 2-4 halves H, W
                att = maybe_attention(attention, planes * block.expansion, opts)
                stage.append(block(inplanes, planes, stride, att))
                inplanes = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(inplanes, num_classes)
        init_backbone(self)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # (N, 64, H/4, W/4)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))  # (N, 512 * expansion, H/32, W/32)
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(attention: str | None = None, num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-18 (``BasicBlock``, [2, 2, 2, 2]); 11,689,512 parameters without attention.

    Attention channels per stage: 64, 128, 256, 512. ``"sa"`` with its default groups=64 needs
    C % 128 == 0, which 64 breaks: pass ``groups=32`` or per stage ``groups=(32, 64, 64, 64)``.

    Example: ``resnet18("se", num_classes=10, reduction=(4, 8, 16, 16))``.
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], attention, num_classes, **options)


def resnet50(attention: str | None = None, num_classes: int = 1000, **options: Any) -> ResNet:
    """ResNet-50 (``Bottleneck``, [3, 4, 6, 3]); 25,557,032 parameters without attention.

    Attention channels per stage: 256, 512, 1024, 2048. Published configurations:
    ``resnet50("se")`` 28,088,024 params; ``resnet50("cbam")`` 28,089,624;
    ``resnet50("sa")`` +708; ``resnet50("eca", kernel_size=(3, 5, 5, 7))`` the released
    ECA-ResNet-50, +80 (``resnet50("eca")`` uses psi(C) instead: k = 5, 5, 5, 7).
    """
    return ResNet(Bottleneck, [3, 4, 6, 3], attention, num_classes, **options)
