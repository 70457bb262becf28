"""The authors' whole ImageNet networks, transcribed with their official structure and key names.

Tests save these networks' state dicts as the official scripts do and check that
``load_official_model`` gives the same logits. The attention blocks are the transcriptions in
``lightattn_ref.official``; the skeletons follow the official files:

- ``se_resnet50``: moskomule/senet.pytorch ``senet/se_resnet.py`` (torchvision ``ResNet`` +
  ``SEBottleneck``: SE after bn3, before the add; ``avgpool = AdaptiveAvgPool2d(1)``).
- ``eca_resnet50``: BangguWu/ECANet ``models/eca_resnet.py`` (``ECABottleneck``, ``k_size`` per
  stage, ``avgpool = AdaptiveAvgPool2d(1)``).
- ``eca_mobilenet_v2``: BangguWu/ECANet ``models/eca_mobilenetv2.py`` (``eca_layer`` appended to each
  block's ``conv``; k = 1 for c < 96 else 3; ``c <= 96`` in the file's earlier version).
- ``sa_resnet50``: wofmanaf/SA-Net ``models/sa_resnet.py`` (``SABottleneck``, groups = 64).
- ``cbam_resnet50``: Jongchan/attention-module ``MODELS/model_resnet.py`` (``Bottleneck`` with
  ``self.cbam = CBAM(planes * 4, 16)`` applied after the downsample branch is computed, before the
  add; ``avgpool = AvgPool2d(7)``, so inputs must be 224 x 224).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from lightattn_ref import official

MakeAttention = Callable[[int, int], nn.Module]  # (channels, stage index) -> the official block


class Bottleneck(nn.Module):
    """The official ResNet-50 bottleneck; the attention block is registered as ``attr``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, downsample: nn.Module | None,
                 attr: str, attention: nn.Module) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.attr = attr
        self.add_module(attr, attention)  # "se", "eca", "sa" or "cbam", as in the official block
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(x)
        out = getattr(self, self.attr)(out)
        out += residual
        return self.relu(out)


class ResNet50(nn.Module):
    """torchvision's ResNet-50 layout (``conv1``, ``bn1``, ``layer1..4``, ``fc``) as the official
    files build it, with ``make_attention(channels, stage)`` in every bottleneck."""

    def __init__(self, attr: str, make_attention: MakeAttention, avgpool: nn.Module,
                 num_classes: int = 1000) -> None:
        super().__init__()
        self.inplanes = 64
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 4, 6, 3))):
            stride = 1 if stage == 0 else 2
            layer = self._make_layer(planes, blocks, stride, stage, attr, make_attention)
            self.add_module(f"layer{stage + 1}", layer)
        self.avgpool = avgpool
        self.fc = nn.Linear(512 * 4, num_classes)

    def _make_layer(self, planes: int, blocks: int, stride: int, stage: int, attr: str,
                    make_attention: MakeAttention) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
        first = Bottleneck(self.inplanes, planes, stride, downsample, attr, make_attention(planes * 4, stage))
        layers = [first]
        self.inplanes = planes * 4
        for _ in range(1, blocks):
            layers.append(Bottleneck(self.inplanes, planes, 1, None, attr, make_attention(planes * 4, stage)))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(x.view(x.size(0), -1))


def se_resnet50() -> ResNet50:
    return ResNet50("se", lambda c, s: official.SELayer(c, 16), nn.AdaptiveAvgPool2d(1))


def eca_resnet50(k_size: tuple[int, int, int, int] = (3, 5, 5, 7)) -> ResNet50:
    return ResNet50("eca", lambda c, s: official.ECALayer(c, k_size[s]), nn.AdaptiveAvgPool2d(1))


def sa_resnet50() -> ResNet50:
    return ResNet50("sa", lambda c, s: official.SALayer(c, 64), nn.AdaptiveAvgPool2d((1, 1)))


def cbam_resnet50() -> ResNet50:
    return ResNet50("cbam", lambda c, s: official.CBAM(c, 16), nn.AvgPool2d(7))


def conv_bn_relu(inp: int, out: int, kernel_size: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    """ECANet's ``ConvBNReLU`` (a Sequential: keys ``.0`` conv, ``.1`` BN)."""
    padding = (kernel_size - 1) // 2
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel_size, stride, padding, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """ECANet's inverted residual: ``eca_layer(oup, k_size)`` is the last entry of ``conv``."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, k_size: int) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu(inp, hidden, kernel_size=1))
        layers += [
            conv_bn_relu(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            nn.BatchNorm2d(oup),
            official.ECALayer(oup, k_size),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class ECAMobileNetV2(nn.Module):
    """ECANet's ``ECA_MobileNetV2`` (width 1.0). ``k_one_up_to``: k = 1 for c < 96 (the released
    weights); ``k_one_up_to=96`` gives the file's earlier ``c <= 96``."""

    SETTING = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1))

    def __init__(self, num_classes: int = 1000, k_one_up_to: int = 95) -> None:
        super().__init__()
        inp = 32
        features: list[nn.Module] = [conv_bn_relu(3, inp, stride=2)]
        for t, c, n, s in self.SETTING:
            for i in range(n):
                ksize = 1 if c <= k_one_up_to else 3
                features.append(InvertedResidual(inp, c, s if i == 0 else 1, t, ksize))
                inp = c
        features.append(conv_bn_relu(inp, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(0.25), nn.Linear(1280, num_classes))

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)
        x = x.mean(-1).mean(-1)
        return self.classifier(x)


def eca_mobilenet_v2(k_one_up_to: int = 95) -> ECAMobileNetV2:
    return ECAMobileNetV2(k_one_up_to=k_one_up_to)


OFFICIAL_NETWORKS: dict[str, Callable[[], nn.Module]] = {
    "se_resnet50": se_resnet50,
    "eca_resnet50": eca_resnet50,
    "eca_mobilenet_v2": eca_mobilenet_v2,
    "sa_resnet50": sa_resnet50,
    "cbam_resnet50": cbam_resnet50,
}


def randomize_network(model: nn.Module, seed: int) -> nn.Module:
    """Random weights and BN statistics at a scale that keeps a deep network's logits near 1.

    Conv / linear weights ~ N(0, 1 / fan_in); BN weight in [0.5, 1], bias and running mean
    ~ 0.1 N(0, 1), running var in [0.5, 1.5]; every other parameter (biases, attention affines)
    ~ 0.5 N(0, 1). Returns the model in eval mode.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=gen))
        for m in model.modules():
            if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.weight[0].numel() ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(0.5 + 0.5 * torch.rand(m.weight.shape, generator=gen))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
    return model.eval()
