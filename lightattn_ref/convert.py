"""Convert state dicts between the official implementations' layouts and ours.

``from_official(name, sd)`` returns a state dict that ``make_attention(name, C, **options)``
loads with ``strict=True``; ``official_options(name, sd)`` recovers C and the options from
the tensor shapes, and ``load_official`` does both. Key layouts (FACTS.md):

- se: the bias-free PyTorch port, ``fc.0.weight`` (C/r, C), ``fc.2.weight`` (C, C/r);
  ``from_official`` sets our biases to zero, which gives the same outputs, and ``load_official``
  builds the module without biases.
- eca: ``conv.weight`` (1, 1, k), same key; the module must be built with that k.
- cbam: ``ChannelGate.mlp.{1,3}.*``, ``SpatialGate.spatial.conv.weight``, ``SpatialGate.spatial.bn.*``.
- cbam_channel: the official ChannelGate on its own, ``mlp.{1,3}.*``, or the official
  ``CBAM(..., no_spatial=True)``, ``ChannelGate.mlp.{1,3}.*``.
- sa: ``cweight``, ``cbias``, ``sweight``, ``sbias``, ``gn.*``, same keys.
- ulsam: ``subspaces.{i}.{conv_dws,bn_dws,conv_point,bn_point}.*``, concatenated over i.
- coord: ``conv1``, ``bn1``, ``conv_h``, ``conv_w`` (``conv2``/``conv3`` in the MobileNetV2 file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from .registry import ATTENTION_NAMES, make_attention

StateDict = dict[str, Tensor]

_CBAM_KEYS = {  # official prefix -> ours
    "ChannelGate.mlp.1.": "channel_gate.fc1.",
    "ChannelGate.mlp.3.": "channel_gate.fc2.",
    "SpatialGate.spatial.conv.": "spatial_gate.conv.",
    "SpatialGate.spatial.bn.": "spatial_gate.bn.",
}
_CBAM_CHANNEL_KEYS = {"mlp.1.": "fc1.", "mlp.3.": "fc2."}
# the official CBAM(..., no_spatial=True) saves its channel gate under this prefix
_CBAM_NO_SPATIAL_PREFIX = "ChannelGate."
_COORD_KEYS = {"conv2.": "conv_h.", "conv3.": "conv_w."}  # the MobileNetV2 checkpoint's names
_ULSAM_KEY = re.compile(r"subspaces\.(\d+)\.(.+)")


def _check_name(name: str) -> None:
    if name not in ATTENTION_NAMES:
        raise ValueError(f"name={name!r} is not an attention module; choose one of {', '.join(ATTENTION_NAMES)}")


def _rename(sd: Mapping[str, Tensor], prefixes: Mapping[str, str]) -> StateDict:
    out = {}
    for key, value in sd.items():
        for old, new in prefixes.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def _ulsam_from_official(sd: Mapping[str, Tensor]) -> StateDict:
    parts: dict[str, dict[int, Tensor]] = {}
    for key, value in sd.items():
        match = _ULSAM_KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"state_dict key {key!r} is not an official ULSAM key 'subspaces.<i>.<name>'")
        parts.setdefault(match.group(2), {})[int(match.group(1))] = value
    out = {}
    for key, by_index in parts.items():
        tensors = [by_index[i] for i in sorted(by_index)]
        if sorted(by_index) != list(range(len(tensors))):
            raise ValueError(f"state_dict has subspaces {sorted(by_index)} for {key!r}; expected 0..{len(tensors) - 1}")
        # all subspaces count the same batches; keep one counter
        out[key] = tensors[0] if key.endswith("num_batches_tracked") else torch.cat(tensors, dim=0)
    return out


def _ulsam_to_official(sd: Mapping[str, Tensor]) -> StateDict:
    groups = sd["conv_point.weight"].shape[0]
    out = {}
    for key, value in sd.items():
        for i in range(groups):
            out[f"subspaces.{i}.{key}"] = value if value.dim() == 0 else value.chunk(groups, dim=0)[i]
    return out


def from_official(name: str, state_dict: Mapping[str, Tensor]) -> StateDict:
    """Turn an official state dict of module ``name`` into ours (see the module docstring)."""
    _check_name(name)
    sd = dict(state_dict)
    if name == "se":
        missing = {"fc.0.weight", "fc.2.weight"} - sd.keys()
        if missing or len(sd) != 2:
            raise ValueError(f"state_dict must hold exactly 'fc.0.weight' and 'fc.2.weight'; got {sorted(sd)}")
        w1, w2 = sd["fc.0.weight"], sd["fc.2.weight"]
        return {"fc1.weight": w1, "fc1.bias": w1.new_zeros(w1.shape[0]),
                "fc2.weight": w2, "fc2.bias": w2.new_zeros(w2.shape[0])}
    if name == "cbam":
        return _rename(sd, _CBAM_KEYS)
    if name == "cbam_channel":
        if sd and all(key.startswith(_CBAM_NO_SPATIAL_PREFIX) for key in sd):
            sd = {key[len(_CBAM_NO_SPATIAL_PREFIX):]: value for key, value in sd.items()}
        return _rename(sd, _CBAM_CHANNEL_KEYS)
    if name == "ulsam":
        return _ulsam_from_official(sd)
    if name == "coord":
        return _rename(sd, _COORD_KEYS)
    return sd  # eca and sa use the official keys


def to_official(name: str, state_dict: Mapping[str, Tensor]) -> StateDict:
    """The inverse of ``from_official``: our state dict in the official layout."""
    _check_name(name)
    sd = dict(state_dict)
    if name == "se":
        if "fc1.bias" in sd and (sd["fc1.bias"].any() or sd["fc2.bias"].any()):
            raise ValueError("the bias-free SE port cannot hold non-zero biases fc1.bias / fc2.bias")
        return {"fc.0.weight": sd["fc1.weight"], "fc.2.weight": sd["fc2.weight"]}
    if name == "cbam":
        return _rename(sd, {new: old for old, new in _CBAM_KEYS.items()})
    if name == "cbam_channel":
        return _rename(sd, {new: old for old, new in _CBAM_CHANNEL_KEYS.items()})
    if name == "ulsam":
        return _ulsam_to_official(sd)
    return sd  # eca, sa and coord (conv_h / conv_w) use the official keys


def _options(name: str, sd: Mapping[str, Tensor], channels: int) -> dict[str, Any]:
    """Constructor options implied by the tensor shapes of our state dict ``sd``."""
    if name in ("se", "cbam_channel"):
        return {"reduction": channels // sd["fc1.weight"].shape[0]}
    if name == "cbam":
        return {"reduction": channels // sd["channel_gate.fc1.weight"].shape[0]}
    if name == "eca":
        return {"kernel_size": sd["conv.weight"].shape[-1]}
    if name == "sa":
        return {"groups": channels // (2 * sd["cweight"].shape[1])}
    if name == "ulsam":
        return {"groups": sd["conv_point.weight"].shape[0]}
    mip = sd["conv1.weight"].shape[0]
    return {"reduction": 32 if mip == max(8, channels // 32) else channels // mip}


def load_official(name: str, state_dict: Mapping[str, Tensor], channels: int) -> nn.Module:
    """Build ``make_attention(name, channels, ...)`` with the options that the official weights
    imply (r, k or G from their shapes), load them strictly and return the module in eval mode.

    SE is built with ``bias=False``, like the bias-free port: the same outputs, and no zero
    biases to carry, to fine-tune away from zero, or to pay for in every backward pass.
    """
    sd = from_official(name, state_dict)
    options = _options(name, sd, channels)
    if name == "se":
        options["bias"] = False
        sd = {key: value for key, value in sd.items() if not key.endswith(".bias")}  # the zero biases
    module = make_attention(name, channels, **options)
    module.load_state_dict(sd, strict=True)
    return module.eval()
