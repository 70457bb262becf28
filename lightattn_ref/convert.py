"""Convert state dicts between the official implementations' layouts and ours.

``from_official(name, sd)`` returns a state dict that ``make_attention(name, C, **options)``
loads with ``strict=True``; ``official_options(name, sd, C)`` recovers the options from the
tensor shapes, and ``load_official`` does both. Each name's key layout and the source file it
comes from are in its entry of ``lightattn_ref.specs.SPECS``.

SE's official weights come from the bias-free PyTorch port: ``from_official`` sets our biases to
zero, which gives the same outputs, and ``load_official`` builds the module without biases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from ._keys import StateDict
from .specs import AttentionSpec, spec

__all__ = ["from_official", "load_official", "official_options", "to_official"]


def _official_spec(name: str) -> AttentionSpec:
    entry = spec(name)
    if entry.official is None:
        raise ValueError(f"name={name!r} has no official implementation, so no official weights to convert")
    return entry


def from_official(name: str, state_dict: Mapping[str, Tensor]) -> StateDict:
    """Turn an official state dict of module ``name`` into ours (keys listed in ``specs``)."""
    return _official_spec(name).from_official(dict(state_dict))


def to_official(name: str, state_dict: Mapping[str, Tensor]) -> StateDict:
    """The inverse of ``from_official``: our state dict in the official layout."""
    return _official_spec(name).to_official(dict(state_dict))


def official_options(name: str, state_dict: Mapping[str, Tensor], channels: int) -> dict[str, Any]:
    """Constructor options (r, k or G) that the tensor shapes of our state dict imply."""
    return spec(name).options_of(state_dict, channels)


def load_official(name: str, state_dict: Mapping[str, Tensor], channels: int) -> nn.Module:
    """Build ``make_attention(name, channels, ...)`` with the options that the official weights
    imply (r, k or G from their shapes), load them strictly and return the module in eval mode.

    SE is built with ``bias=False``, like the bias-free port: the same outputs, and no zero
    biases to carry, to fine-tune away from zero, or to pay for in every backward pass.
    """
    entry = _official_spec(name)
    sd = entry.from_official(dict(state_dict))
    options = {**entry.options_of(sd, channels), **entry.load_options}
    module = entry.build(channels, **options)
    expected = module.state_dict().keys()
    # a zero bias is the same as no bias: drop the ones a bias-free module has no place for
    sd = {key: value for key, value in sd.items()
          if key in expected or not (key.endswith(".bias") and not value.any())}
    module.load_state_dict(sd, strict=True)
    return module.eval()
