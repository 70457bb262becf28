"""Backbones with an optional attention module: torchvision-compatible when ``attention=None``.

``resnet18`` / ``resnet50`` put the module after the last BN of every residual branch;
``mobilenet_v2`` after the depthwise conv of the 16 expanded blocks (ECA: at the end of all 17).
``load_official_model`` loads the authors' released ImageNet networks into them.
"""

from __future__ import annotations

from torch import nn

from .mobilenetv2 import INVERTED_RESIDUAL_SETTING, InvertedResidual, MobileNetV2, mobilenet_v2
from ._common import stage_options
from .official_checkpoints import load_official_model
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet50


def attention_modules(model: nn.Module) -> dict[str, nn.Module]:
    """The attention modules of a backbone in forward order, keyed by their state-dict prefix.

    E.g. ``{"layer1.0.attention": SqueezeExcitation(...), ...}`` for ``resnet50("se")``; empty
    for ``attention=None``. Handy for plotting every block's gate via ``attention_maps``.
    """
    blocks = (BasicBlock, Bottleneck, InvertedResidual)
    return {
        f"{name}.attention": m.attention
        for name, m in model.named_modules()
        if isinstance(m, blocks) and m.attention is not None
    }


__all__ = [
    "INVERTED_RESIDUAL_SETTING",
    "BasicBlock",
    "Bottleneck",
    "InvertedResidual",
    "MobileNetV2",
    "ResNet",
    "attention_modules",
    "load_official_model",
    "mobilenet_v2",
    "resnet18",
    "resnet50",
    "stage_options",
]
