"""Load the authors' released ImageNet networks into our backbones: ``load_official_model``.

The official training scripts save whole networks as ``{"epoch", "arch", "state_dict", ...}``,
every key prefixed ``module.`` because they train inside ``DataParallel``. Each network is
torchvision's ResNet-50 or MobileNetV2 with one attention module per block, so its keys are our
backbone's keys except for the attention submodule: its name inside the block (``se``, ``eca``,
``sa``, ``cbam``; in ECA's MobileNetV2 the last index of the block's ``conv`` Sequential) and its
inner keys, which :func:`lightattn_ref.from_official` converts. Shapes need no reshaping: SA's
``cweight`` etc. are (1, C/2G, 1, 1) in both.

The official networks (structure, layer order and key names read from these files):

- ``se_resnet50`` (the PyTorch port's weights): moskomule/senet.pytorch ``senet/se_resnet.py``
  ``se_resnet50()`` (torchvision's ``ResNet`` with ``SEBottleneck``, SE after bn3) and
  ``senet/se_module.py`` (bias-free FCs) -> ``resnet50("se", bias=False)``.
- ``eca_resnet50``: BangguWu/ECANet ``models/eca_resnet.py`` ``eca_resnet50(k_size=[3, 5, 5, 7])``,
  the released ``eca_resnet50_k3557`` -> ``resnet50("eca", kernel_size=(3, 5, 5, 7))``.
- ``eca_mobilenet_v2``: BangguWu/ECANet ``models/eca_mobilenetv2.py``: ECA appended to every
  block's ``conv`` (``features.I.conv.3`` in the first block, ``features.I.conv.4`` after), k = 1
  where the block outputs fewer than 96 channels, else 3 -> ``mobilenet_v2("eca",
  kernel_size=(1, 1, 1, 1, 3, 3, 3))``. An earlier version of that file used ``c <= 96`` (k = 1
  for the 96-channel stage too), which the released weights do not fit (ECANet pull request #32).
- ``sa_resnet50``: wofmanaf/SA-Net ``models/sa_resnet.py`` ``sa_resnet50()``, groups = 64
  -> ``resnet50("sa")``.
- ``cbam_resnet50``: Jongchan/attention-module ``MODELS/model_resnet.py``
  ``ResidualNet("ImageNet", 50, 1000, "CBAM")`` with ``MODELS/cbam.py`` -> ``resnet50("cbam")``.
  Its other keys (``conv1``, ``bn1``, ``layerS.B.{conv,bn}{1,2,3}``, ``downsample.{0,1}``, ``fc``)
  are torchvision's. Its ``avgpool`` is ``AvgPool2d(7)``: the global average only for 224 x 224
  inputs (7 x 7 final maps); ours averages globally at every input size.

ECA's k is read from the checkpoint, one per stage (the scripts take ``k_size`` as an argument),
so networks trained with other k load too; the values above are the defaults when absent.
Differences that leave eval-mode outputs unchanged: dropout (ECA-MobileNetV2 0.25, ours 0.2).
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, NamedTuple, Union, overload

import torch
from torch import Tensor, nn

from ..convert import from_official
from .mobilenetv2 import INVERTED_RESIDUAL_SETTING, mobilenet_v2
from .resnet import resnet50

Checkpoint = Union[str, os.PathLike, Mapping[str, Any]]

_DATA_PARALLEL_PREFIX = "module."
_SHOWN = 3  # keys named in an error message, per kind


class _Block(NamedTuple):
    """One attention module: its state-dict prefix in our backbone and in the official network."""

    ours: str
    official: str
    stage: int


class SkippedKeys(NamedTuple):
    """What ``load_official_model(..., strict=False)`` left out.

    ``missing``: our keys the checkpoint lacks (they keep their initial values); ``unexpected``:
    checkpoint keys (after renaming) our backbone has no place for; ``mismatched``: keys in both
    whose shapes differ (not loaded).
    """

    missing: list[str]
    unexpected: list[str]
    mismatched: list[str]


@dataclass(frozen=True)
class _Arch:
    attention: str  # the registry name that ``from_official`` converts
    build: Callable[..., nn.Module]
    blocks: tuple[_Block, ...]
    source: str
    options: Mapping[str, Any] = field(default_factory=dict)


def _resnet50_blocks(name: str) -> tuple[_Block, ...]:
    """``layerS.B.<name>.`` in the official ResNet-50s, ``layerS.B.attention.`` in ours."""
    stages = (3, 4, 6, 3)
    return tuple(
        _Block(f"layer{s + 1}.{b}.attention.", f"layer{s + 1}.{b}.{name}.", s)
        for s, n in enumerate(stages)
        for b in range(n)
    )


def _mobilenet_v2_eca_blocks() -> tuple[_Block, ...]:
    """ECA is appended to each block's ``conv`` Sequential after [expand], depthwise, project conv
    and project BN: index 3 in the t = 1 block (no expand), 4 in the others."""
    blocks: list[_Block] = []
    i = 1  # features.0 is the stem
    for stage, (t, _, n, _) in enumerate(INVERTED_RESIDUAL_SETTING):
        for _ in range(n):
            eca_index = 3 if t == 1 else 4
            blocks.append(_Block(f"features.{i}.attention.", f"features.{i}.conv.{eca_index}.", stage))
            i += 1
    return tuple(blocks)


_ARCHS: dict[str, _Arch] = {
    "se_resnet50": _Arch(
        "se", partial(resnet50, "se", bias=False), _resnet50_blocks("se"),
        "moskomule/senet.pytorch senet/se_resnet.py se_resnet50()",
    ),
    "eca_resnet50": _Arch(
        "eca", partial(resnet50, "eca"), _resnet50_blocks("eca"),
        "BangguWu/ECANet models/eca_resnet.py eca_resnet50(k_size=[3, 5, 5, 7])",
        {"kernel_size": (3, 5, 5, 7)},
    ),
    "eca_mobilenet_v2": _Arch(
        "eca", partial(mobilenet_v2, "eca"), _mobilenet_v2_eca_blocks(),
        "BangguWu/ECANet models/eca_mobilenetv2.py eca_mobilenet_v2()",
        {"kernel_size": (1, 1, 1, 1, 3, 3, 3)},
    ),
    "sa_resnet50": _Arch(
        "sa", partial(resnet50, "sa"), _resnet50_blocks("sa"),
        "wofmanaf/SA-Net models/sa_resnet.py sa_resnet50()",
    ),
    "cbam_resnet50": _Arch(
        "cbam", partial(resnet50, "cbam"), _resnet50_blocks("cbam"),
        'Jongchan/attention-module MODELS/model_resnet.py ResidualNet("ImageNet", 50, 1000, "CBAM")',
    ),
}

#: The ``arch`` names ``load_official_model`` accepts.
OFFICIAL_ARCHS: tuple[str, ...] = tuple(_ARCHS)


def _arch(arch: str) -> _Arch:
    if arch not in _ARCHS:
        raise ValueError(
            f"arch={arch!r} is not a released network; choose one of {', '.join(OFFICIAL_ARCHS)}"
        )
    return _ARCHS[arch]


def _read_state_dict(checkpoint: Checkpoint) -> dict[str, Tensor]:
    """The state dict in a path or mapping: ``{"state_dict": sd, ...}`` or ``sd``, without ``module.``."""
    if isinstance(checkpoint, (str, os.PathLike)):
        try:
            obj = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            raise ValueError(
                f"checkpoint={os.fspath(checkpoint)!r} holds objects that torch.load(weights_only=True) "
                f"refuses to unpickle. If you trust the file, load it with torch.load(path, "
                f"map_location='cpu', weights_only=False) and pass the result. ({err})"
            ) from err
    elif isinstance(checkpoint, Mapping):
        obj = checkpoint
    else:
        raise TypeError(
            f"checkpoint must be a path (str or os.PathLike) or a mapping; got {type(checkpoint).__name__}"
        )
    if not isinstance(obj, Mapping):
        raise ValueError(
            f"checkpoint holds a {type(obj).__name__}, not a state dict or {{'state_dict': ...}}"
        )
    sd = obj["state_dict"] if "state_dict" in obj else obj
    if not isinstance(sd, Mapping) or not sd:
        raise ValueError("checkpoint['state_dict'] must be a non-empty mapping of names to tensors")
    for key, value in sd.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise ValueError(
                f"checkpoint entry {key!r} is a {type(value).__name__}, not a tensor: expected a state dict "
                f"or a mapping with one under 'state_dict' (keys found: {sorted(map(str, sd))[:_SHOWN]} ...)"
            )
    n = len(_DATA_PARALLEL_PREFIX)
    return {k[n:] if k.startswith(_DATA_PARALLEL_PREFIX) else k: v for k, v in sd.items()}


def _to_ours(arch: str, spec: _Arch, sd: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Rename each block's official attention keys to ours; every other key is already ours."""
    out: dict[str, Tensor] = {}
    inner: dict[_Block, dict[str, Tensor]] = {}
    for key, value in sd.items():
        block = next((b for b in spec.blocks if key.startswith(b.official)), None)
        if block is None:
            out[key] = value
        else:
            inner.setdefault(block, {})[key[len(block.official):]] = value
    for block, weights in inner.items():
        try:
            converted = from_official(spec.attention, weights)
        except ValueError as err:
            raise ValueError(
                f"arch={arch!r}: the weights under {block.official!r} do not convert: {err}"
            ) from err
        out.update({block.ours + key: value for key, value in converted.items()})
    return out


def _options(arch: str, spec: _Arch, sd: Mapping[str, Tensor]) -> dict[str, Any]:
    """The backbone's options: the defaults, with ECA's k per stage read from the checkpoint."""
    options = dict(spec.options)
    if spec.attention != "eca":
        return options
    kernel_sizes = list(options["kernel_size"])
    first: dict[int, tuple[str, int]] = {}  # stage -> (official key, k) of its first block
    for block in spec.blocks:
        weight = sd.get(block.ours + "conv.weight")
        if weight is None or weight.dim() != 3:
            continue  # absent or malformed: the key and shape checks report it
        key, k = block.official + "conv.weight", int(weight.shape[-1])
        if block.stage in first and first[block.stage][1] != k:
            raise ValueError(
                f"arch={arch!r}: ECA kernel sizes differ within stage {block.stage + 1}: "
                f"{first[block.stage][0]!r} has k={first[block.stage][1]}, {key!r} has k={k}; "
                f"the official networks use one k per stage"
            )
        first.setdefault(block.stage, (key, k))
        kernel_sizes[block.stage] = k
    options["kernel_size"] = tuple(kernel_sizes)
    return options


def _zero_attention_bias(key: str, value: Tensor) -> bool:
    return ".attention." in key and key.endswith(".bias") and not value.any()


def _looks_like(sd: Mapping[str, Tensor], arch: str) -> list[str]:
    """The other released networks whose attention keys appear in ``sd`` (official names)."""
    return [
        name for name, spec in _ARCHS.items()
        if name != arch and any(key.startswith(b.official) for b in spec.blocks for key in sd)
    ]


def _first(keys: list[str]) -> str:
    more = f" and {len(keys) - _SHOWN} more" if len(keys) > _SHOWN else ""
    return f"{keys[:_SHOWN]}{more}"


def _fit(sd: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> SkippedKeys:
    """Compare names and shapes. A missing ``num_batches_tracked`` is fine: checkpoints saved before
    PyTorch 0.4.1 have none, and eval-mode BatchNorm does not read it."""
    missing = [k for k in expected if k not in sd and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in sd if k not in expected]
    mismatched = [k for k in sd if k in expected and sd[k].shape != expected[k].shape]
    return SkippedKeys(missing, unexpected, mismatched)


def _raise_if_unfit(arch: str, spec: _Arch, skipped: SkippedKeys, official: Mapping[str, Tensor],
                    sd: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> None:
    if skipped.missing or skipped.unexpected:
        guess = _looks_like(official, arch)
        hint = f" Its keys look like those of arch={guess[0]!r}." if guess else ""
        raise ValueError(
            f"the checkpoint does not fit arch={arch!r} ({spec.source}): "
            f"{len(skipped.missing)} keys missing, {_first(skipped.missing)}; "
            f"{len(skipped.unexpected)} unexpected, {_first(skipped.unexpected)}.{hint} "
            f"Pass strict=False to load the keys that fit."
        )
    if skipped.mismatched:
        key = skipped.mismatched[0]
        more = len(skipped.mismatched) - 1
        others = f"; {more} more key(s) differ in shape, {_first(skipped.mismatched[1:])}" if more else ""
        raise ValueError(
            f"arch={arch!r}: key {key!r} has shape {tuple(sd[key].shape)} in the checkpoint but "
            f"{tuple(expected[key].shape)} in our backbone{others}"
        )


@overload
def load_official_model(arch: str, checkpoint: Checkpoint, *, strict: Literal[True] = True) -> nn.Module: ...


@overload
def load_official_model(
    arch: str, checkpoint: Checkpoint, *, strict: Literal[False]
) -> tuple[nn.Module, SkippedKeys]: ...


@overload
def load_official_model(
    arch: str, checkpoint: Checkpoint, *, strict: bool
) -> nn.Module | tuple[nn.Module, SkippedKeys]: ...


def load_official_model(
    arch: str, checkpoint: Checkpoint, *, strict: bool = True
) -> nn.Module | tuple[nn.Module, SkippedKeys]:
    """Our backbone with the weights of a network saved by the authors' official training script.

    Args:
        arch: ``"se_resnet50"``, ``"eca_resnet50"``, ``"eca_mobilenet_v2"``, ``"sa_resnet50"`` or
            ``"cbam_resnet50"`` (listed with their official files in this module's docstring).
        checkpoint: a path, read with ``torch.load(map_location="cpu", weights_only=True)``, or a
            mapping: ``{"epoch", "arch", "state_dict", ...}`` as the scripts save it, or a bare state
            dict. A ``module.`` prefix (``DataParallel``) is stripped from every key that has it.
        strict: every key must fit by name and shape (default). ``False`` loads what fits and also
            returns the :class:`~lightattn_ref.models.official_checkpoints.SkippedKeys`.

    Returns:
        The backbone (1000 classes) in eval mode; with ``strict=False``, ``(model, skipped)``. Its
        logits equal the official network's on the same (N, 3, 224, 224) input.

    Raises:
        ValueError: unknown ``arch``; a checkpoint for another network or with missing or extra keys
            (naming the arch, the first keys that do not fit, and the arch the keys look like); a
            shape mismatch (naming the key and both shapes).

    Example: ``model = load_official_model("eca_resnet50", "eca_resnet50_k3557.pth.tar")``.
    """
    spec = _arch(arch)
    official = _read_state_dict(checkpoint)
    sd = _to_ours(arch, spec, official)
    model = spec.build(**_options(arch, spec, sd))
    expected = model.state_dict()
    # from_official gives SE zero biases (same outputs); the bias-free backbone has no place for them
    sd = {k: v for k, v in sd.items() if k in expected or not _zero_attention_bias(k, v)}
    skipped = _fit(sd, expected)
    if strict:
        _raise_if_unfit(arch, spec, skipped, official, sd, expected)
    skip = set(skipped.mismatched)
    fitting = {k: v for k, v in sd.items() if k in expected and k not in skip}
    model.load_state_dict(fitting, strict=False)  # names and shapes are checked above
    model.eval()
    return model if strict else (model, skipped)
