"""MobileNetV2 (width 1.0) with an optional attention module in the inverted residual blocks.

With ``attention=None`` this is torchvision's ``mobilenet_v2``: same state-dict keys
(``features.0.0``, ``features.1.conv.0.0``, ``features.18.1``, ``classifier.1``), 3,504,872
parameters and the same initialisation, so torchvision checkpoints load with ``strict=True``.

Where the attention A goes, following each module's official MobileNetV2 code::

    t = 6 blocks:  x -> expand 1x1 -> depthwise 3x3 -> A -> project 1x1 -> (+ x)   (all but "eca")
    every block:   x -> [expand 1x1] -> depthwise 3x3 -> project 1x1 -> A -> (+ x) ("eca")

i.e. Coordinate Attention, SE, CBAM, SA and ULSAM act on the expanded hidden features of the 16
blocks with expansion 6 (not the first, t = 1, block), while ECA acts on the output of all 17
blocks. A is the block's ``attention`` attribute, called in ``forward``, so the indices of
torchvision's ``conv`` Sequential are not renumbered.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from ._common import check_attention_args, init_backbone, maybe_attention, stage_options

# t (expansion), c (output channels), n (blocks), s (stride of the first block): 7 stages
INVERTED_RESIDUAL_SETTING: list[tuple[int, int, int, int]] = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def conv_bn_relu6(
    inp: int, out: int, kernel_size: int = 3, stride: int = 1, groups: int = 1
) -> nn.Sequential:
    """torchvision's ``Conv2dNormActivation`` with ReLU6: keys ``.0`` (conv), ``.1`` (BN)."""
    return nn.Sequential(
        nn.Conv2d(inp, out, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(out),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """Expand 1x1 (if t > 1) -> depthwise 3x3 -> linear projection 1x1, plus x when shapes match.

    Args:
        inp, oup: input and output channels.
        stride: of the depthwise conv (1 or 2).
        expand_ratio: t; the hidden width is round(inp * t).
        attention: the module to insert, built for the hidden width (``at_end=False``) or for
            ``oup`` (``at_end=True``), or ``None``.
        at_end: put the attention after the projection BN (ECA) instead of after the depthwise conv.

    Shape: x (N, inp, H, W) -> (N, oup, H / stride, W / stride).
    """

    def __init__(
        self,
        inp: int,
        oup: int,
        stride: int,
        expand_ratio: int,
        attention: nn.Module | None = None,
        at_end: bool = False,
    ) -> None:
        super().__init__()
        hidden = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_relu6(inp, hidden, kernel_size=1))
        layers += [
            conv_bn_relu6(hidden, hidden, stride=stride, groups=hidden),  # depthwise
            nn.Conv2d(hidden, oup, 1, bias=False),  # linear projection: no activation after it
            nn.BatchNorm2d(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.attention = attention
        # index in self.conv after which the attention runs: the projection BN or the depthwise stage
        self.attention_after = len(layers) - 1 if at_end else len(layers) - 3

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for i, layer in enumerate(self.conv):
            h = layer(h)
            if i == self.attention_after and self.attention is not None:
                h = self.attention(h)
        return x + h if self.use_res_connect else h


class MobileNetV2(nn.Module):
    """MobileNetV2, width multiplier 1.0, for 224x224 ImageNet-style inputs (any H, W >= 32 works).

    Args:
        attention: a name from ``ATTENTION_NAMES`` or ``None``.
        num_classes: outputs of the classifier.
        **options: passed to ``make_attention``; a tuple/list value gives one entry per stage of
            ``INVERTED_RESIDUAL_SETTING`` (7). For modules other than "eca" the entry of the first
            stage is unused (its t = 1 block gets no attention) but must still be given.

    Shape: x (N, 3, H, W) -> logits (N, num_classes).
    """

    def __init__(self, attention: str | None = None, num_classes: int = 1000, **options: Any) -> None:
        super().__init__()
        check_attention_args(attention, options, num_classes)
        per_stage = stage_options(options, len(INVERTED_RESIDUAL_SETTING))
        at_end = attention == "eca"  # the official ECA code gates each block's output
        features: list[nn.Module] = [conv_bn_relu6(3, 32, stride=2)]
        inp = 32
        for (t, c, n, s), opts in zip(INVERTED_RESIDUAL_SETTING, per_stage):
            for j in range(n):
                if at_end:
                    att = maybe_attention(attention, c, opts)
                elif t != 1:
                    att = maybe_attention(attention, inp * t, opts)  # on the hidden features
                else:
                    att = None
                features.append(InvertedResidual(inp, c, s if j == 0 else 1, t, att, at_end))
                inp = c
        features.append(conv_bn_relu6(inp, 1280, kernel_size=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(1280, num_classes))
        init_backbone(self, linear_std=0.01)

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (N, 1280, H/32, W/32)
        return self.classifier(x.mean(dim=(2, 3)))  # global average pool -> (N, 1280)


def mobilenet_v2(attention: str | None = None, num_classes: int = 1000, **options: Any) -> MobileNetV2:
    """MobileNetV2 (width 1.0); 3,504,872 parameters without attention.

    Attention channels: hidden widths 96, 144, 144, 192, 192, 192, 384 x 4, 576 x 3, 960 x 3 (16
    blocks); for "eca" the block outputs 16, 24 x 2, 32 x 3, 64 x 4, 96 x 3, 160 x 3, 320 (17).
    ``"sa"`` with its default groups=64 needs C % 128 == 0, which 96, 144, 192, 576 and 960 break;
    every hidden width is divisible by 16, so ``groups=8`` works. ``"ulsam"`` (groups=4) fits as is.

    Published configurations: ``mobilenet_v2("coord")`` 3,950,648 params (Coordinate Attention);
    ``mobilenet_v2("eca", kernel_size=(1, 1, 1, 1, 3, 3, 3))`` the official ECA-MobileNetV2
    (k = 1 below 96 output channels, else 3), +31 params.
    """
    return MobileNetV2(attention, num_classes, **options)
