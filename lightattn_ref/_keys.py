"""State-dict key helpers shared by the entries of ``specs``: renaming prefixes, concatenating subspaces."""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch
from torch import Tensor

StateDict = dict[str, Tensor]

_SUBSPACE_KEY = re.compile(r"subspaces\.(\d+)\.(.+)")


def rename_prefixes(sd: Mapping[str, Tensor], prefixes: Mapping[str, str]) -> StateDict:
    """Each key that starts with a prefix in ``prefixes`` gets the mapped prefix; others stay."""
    out = {}
    for key, value in sd.items():
        for old, new in prefixes.items():
            if key.startswith(old):
                key = new + key[len(old):]
                break
        out[key] = value
    return out


def inverse(prefixes: Mapping[str, str]) -> dict[str, str]:
    """The prefix map that undoes ``prefixes``."""
    return {new: old for old, new in prefixes.items()}


def concat_subspaces(sd: Mapping[str, Tensor]) -> StateDict:
    """``subspaces.{i}.<key>`` of G subspace modules -> one ``<key>`` concatenated along dim 0."""
    parts: dict[str, dict[int, Tensor]] = {}
    for key, value in sd.items():
        match = _SUBSPACE_KEY.fullmatch(key)
        if match is None:
            raise ValueError(f"state_dict key {key!r} is not a subspace key 'subspaces.<i>.<name>'")
        parts.setdefault(match.group(2), {})[int(match.group(1))] = value
    out = {}
    for key, by_index in parts.items():
        tensors = [by_index[i] for i in sorted(by_index)]
        if sorted(by_index) != list(range(len(tensors))):
            raise ValueError(f"state_dict has subspaces {sorted(by_index)} for {key!r}; expected 0..{len(tensors) - 1}")
        # all subspaces count the same batches; keep one counter
        out[key] = tensors[0] if key.endswith("num_batches_tracked") else torch.cat(tensors, dim=0)
    return out


def split_subspaces(sd: Mapping[str, Tensor], groups: int) -> StateDict:
    """The inverse of ``concat_subspaces`` for ``groups`` subspaces (scalars are copied to each)."""
    out = {}
    for key, value in sd.items():
        for i in range(groups):
            out[f"subspaces.{i}.{key}"] = value if value.dim() == 0 else value.chunk(groups, dim=0)[i]
    return out
