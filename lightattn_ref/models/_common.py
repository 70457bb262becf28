"""What the backbones share: per-stage options, argument checks, building the module, init."""

from __future__ import annotations

from typing import Any

from torch import nn

from ..registry import make_attention


def stage_options(options: dict[str, Any], num_stages: int) -> list[dict[str, Any]]:
    """Split ``options`` into one dict per stage.

    A tuple/list value is per stage and must have exactly ``num_stages`` entries; any other value
    applies to every stage. E.g. with 4 stages ``{"kernel_size": (3, 5, 5, 7), "gamma": 2}``
    gives ``[{"kernel_size": 3, "gamma": 2}, {"kernel_size": 5, "gamma": 2}, ...]``.
    """
    for name, value in options.items():
        if isinstance(value, (tuple, list)) and len(value) != num_stages:
            raise ValueError(
                f"per-stage option {name}={value!r} has {len(value)} entries; "
                f"expected one per stage, i.e. {num_stages}"
            )
    return [
        {k: v[i] if isinstance(v, (tuple, list)) else v for k, v in options.items()}
        for i in range(num_stages)
    ]


def check_attention_args(attention: str | None, options: dict[str, Any], num_classes: int) -> None:
    """Refuse options without an attention module (they would be silently ignored) and bad num_classes."""
    if attention is None and options:
        raise ValueError(f"attention options {sorted(options)} given but attention=None")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
        raise ValueError(f"num_classes={num_classes!r} must be a positive int")


def maybe_attention(attention: str | None, channels: int, options: dict[str, Any]) -> nn.Module | None:
    """``make_attention(attention, channels, **options)``, or ``None`` when ``attention`` is ``None``."""
    return None if attention is None else make_attention(attention, channels, **options)


def init_backbone(model: nn.Module, linear_std: float | None = None) -> None:
    """torchvision's init: kaiming-normal (fan_out, relu) convs, BN weight 1 / bias 0, and
    optionally Linear ~ N(0, linear_std) with zero bias (MobileNetV2). Modules inside an
    ``attention`` submodule are skipped: they keep their own (official) initialisation."""
    for name, m in model.named_modules():
        if "attention" in name.split("."):
            continue
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and linear_std is not None:
            nn.init.normal_(m.weight, 0, linear_std)
            nn.init.zeros_(m.bias)
