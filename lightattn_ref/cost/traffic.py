"""Memory traffic from a module's structure: minimal passes over x, and the bytes they move.

A pass reads or writes a tensor as large as x in R^{N x C x H x W} once, so p passes move
D = p * N * C * H * W * B bytes, B = itemsize (chapter 07, eq. ``eq-cost-traffic``). These
modules do a few FLOPs per byte, so their time follows these bytes rather than their FLOPs.
``mode="eval"`` counts one inference forward; ``mode="train"`` one training forward + backward,
whose backward also reads grad_y and writes grad_x.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from ..specs import ATTENTION_NAMES, SPECS, name_of
from ._checks import check_shape

#: Minimal full passes over x (reads + writes) of one eval-mode forward, and why, for the book's
#: seven names; read from ``lightattn_ref.specs.SPECS``, where the derivation of each lives.
#: A pass moves numel(x) * itemsize bytes; small tensors (pooled vectors, gates, maps,
#: parameters) are ignored. An eager forward moves more; this is the floor its design allows.
MINIMAL_PASSES: dict[str, tuple[int, str]] = {
    name: (SPECS[name].passes, SPECS[name].passes_why) for name in ATTENTION_NAMES
}

#: The same for one training-mode forward + backward (``specs.AttentionSpec.train_passes``): the
#: forward writes y, the backward reads grad_y and writes grad_x; a step that must wait for a full
#: reduction reads its inputs again. Half-passes occur where a module's halves differ (SA).
MINIMAL_TRAIN_PASSES: dict[str, tuple[float, str]] = {
    name: (SPECS[name].train_passes, SPECS[name].train_passes_why) for name in ATTENTION_NAMES
}

_MODES = ("eval", "train")


def minimal_passes(name_or_module: str | nn.Module, mode: str = "eval") -> float:
    """Minimal full passes over x of one eval-mode forward (``mode="eval"``, an int, see
    ``specs.AttentionSpec.passes``) or of one training forward + backward (``mode="train"``,
    ``specs.AttentionSpec.train_passes``, possibly a half-integer)."""
    if mode not in _MODES:
        raise ValueError(f"mode={mode!r} must be one of {', '.join(_MODES)}")
    if isinstance(name_or_module, nn.Module):
        try:
            name = name_of(name_or_module)
        except ValueError as error:
            raise ValueError(f"name_or_module: {error}") from None
    else:
        name = name_or_module
    if name not in SPECS:
        raise ValueError(f"name_or_module={name!r} is not one of {sorted(SPECS)}")
    entry = SPECS[name]
    return entry.passes if mode == "eval" else entry.train_passes


def memory_traffic(
    name_or_module: str | nn.Module,
    shape: Sequence[int],
    dtype: torch.dtype = torch.float32,
    mode: str = "eval",
) -> int:
    """Bytes one call must read and write at minimum: passes * numel(x) * itemsize.

    Args:
        name_or_module: a registry name (``"se"``, ``"eca"``, ``"cbam"``, ``"cbam_channel"``,
            ``"sa"``, ``"ulsam"``, ``"coord"``) or a module built by ``make_attention``.
        shape: the shape of x, e.g. (N, C, H, W).
        dtype: the element type of x (float32: 4 bytes per element).
        mode: ``"eval"``, one inference forward, or ``"train"``, one forward + backward.

    Returns:
        Bytes (divide by 1e6 for MB), rounded to an integer where the passes are a half-integer.
        A lower bound from the module's structure, not a measurement: small tensors (gates,
        pooled vectors, maps, parameters) are ignored.
    """
    passes = minimal_passes(name_or_module, mode)
    dims = check_shape(shape)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype must be a torch.dtype; got {dtype!r}")
    return int(round(passes * math.prod(dims) * dtype.itemsize))
