"""What the package knows about each attention module, in one table.

One :class:`AttentionSpec` per registry name holds how to build our module and the official
transcription, how the official state dict's keys map onto ours, which constructor options a
state dict implies, the fallback options where a default is invalid, and the minimal passes over
memory of one inference forward. The registry (``make_attention``), the converters
(``from_official``), the cost toolkit (``minimal_passes``, ``cost_table``) and the benchmark all
read this table, so a new module is one class, one transcription and one entry here.

Official key layouts (each from the official repository's module file):

- se: hujie-frank/SENet is Caffe; the popular PyTorch port moskomule/senet.pytorch
  (``senet/se_module.py``) has ``fc.0.weight`` (C/r, C), ``fc.2.weight`` (C, C/r), no biases.
- eca: BangguWu/ECANet ``models/eca_module.py``: ``conv.weight`` (1, 1, k), same key.
- cbam: Jongchan/attention-module ``MODELS/cbam.py``: ``ChannelGate.mlp.{1,3}.*``,
  ``SpatialGate.spatial.conv.weight``, ``SpatialGate.spatial.bn.*``.
- sa: wofmanaf/SA-Net ``models/sa_resnet.py``: ``cweight``, ``cbias``, ``sweight``, ``sbias``,
  ``gn.*``, same keys.
- ulsam: Nandan91/ULSAM ``ulsam.py``: ``subspaces.{i}.{conv_dws,bn_dws,conv_point,bn_point}.*``.
- coord: houqb/CoordAttention ``coordatt.py``: ``conv1``, ``bn1``, ``conv_h``, ``conv_w``
  (``conv2`` / ``conv3`` in its ``mbv2_ca.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from . import official
from ._keys import StateDict, concat_subspaces, inverse, rename_prefixes, split_subspaces
from .attention import (
    CBAM,
    ChannelGate,
    CoordinateAttention,
    EfficientChannelAttention,
    ShuffleAttention,
    ShuffleAttentionConv,
    SqueezeExcitation,
    ULSAM,
)

Options = dict[str, Any]


def _same_keys(sd: Mapping[str, Tensor]) -> StateDict:
    return dict(sd)


def _no_options(sd: Mapping[str, Tensor], channels: int) -> Options:
    return {}


def _no_fallback(channels: int) -> tuple[Options, str] | None:
    return None


@dataclass(frozen=True)
class AttentionSpec:
    """Everything the package knows about one registry name.

    Attributes:
        name: the registry name, e.g. ``"se"``.
        title: the module's name in the book, e.g. ``"Squeeze-and-Excitation"``.
        build: ``build(channels, **options)`` returns our module.
        passes: minimal full passes over x (reads + writes) of one eval-mode forward. A pass moves
            numel(x) * itemsize bytes. "Minimal" means a perfectly fused implementation: tensors
            smaller than x by a factor H, W, H*W or C/G (pooled vectors, gates, maps, parameters)
            are ignored. An eager forward moves more; this is the floor the design allows.
        passes_why: which reads and writes make up ``passes``.
        train_passes: the same for one training-mode forward + backward: the forward writes y, the
            backward reads grad_y and writes grad_x (each x's size); a step that needs a full
            reduction before it can go on forces another read. The benchmark's train floor.
        train_passes_why: which reads and writes make up ``train_passes``.
        official: ``official(channels, **options)`` returns the transcription of the official
            module (``lightattn_ref.official``), or None where there is no official code.
        from_official: maps an official state dict's keys (and tensors) onto ours.
        to_official: the inverse of ``from_official``.
        options_of: ``options_of(sd, channels)``, the constructor options that the tensor shapes
            of *our* state dict ``sd`` imply (r, k or G).
        load_options: options ``load_official`` adds, e.g. SE's ``bias=False`` for the bias-free port.
        fallback: ``fallback(channels)`` gives options and a note where the default options are
            invalid at ``channels`` (SA's 64 groups need C % 128 == 0), else None.
        floor_target: the benchmark's goal for our eval forward time, in multiples of the floor
            (``passes`` at the measured copy speed), at the two largest ResNet-50 shapes.
    """

    name: str
    title: str
    build: Callable[..., nn.Module]
    passes: int
    passes_why: str
    train_passes: float
    train_passes_why: str
    official: Callable[..., nn.Module] | None = None
    from_official: Callable[[Mapping[str, Tensor]], StateDict] = _same_keys
    to_official: Callable[[Mapping[str, Tensor]], StateDict] = _same_keys
    options_of: Callable[[Mapping[str, Tensor], int], Options] = _no_options
    load_options: Mapping[str, Any] = field(default_factory=dict)
    fallback: Callable[[int], tuple[Options, str] | None] = _no_fallback
    floor_target: float | None = None


# --- SE: the bias-free port; zero biases give the same outputs as none -----------------------


def _se_from_official(sd: Mapping[str, Tensor]) -> StateDict:
    if set(sd) != {"fc.0.weight", "fc.2.weight"}:
        raise ValueError(f"state_dict must hold exactly 'fc.0.weight' and 'fc.2.weight'; got {sorted(sd)}")
    w1, w2 = sd["fc.0.weight"], sd["fc.2.weight"]
    return {"fc1.weight": w1, "fc1.bias": w1.new_zeros(w1.shape[0]),
            "fc2.weight": w2, "fc2.bias": w2.new_zeros(w2.shape[0])}


def _se_to_official(sd: Mapping[str, Tensor]) -> StateDict:
    if "fc1.bias" in sd and (sd["fc1.bias"].any() or sd["fc2.bias"].any()):
        raise ValueError("the bias-free SE port cannot hold non-zero biases fc1.bias / fc2.bias")
    return {"fc.0.weight": sd["fc1.weight"], "fc.2.weight": sd["fc2.weight"]}


def _reduction_of(prefix: str) -> Callable[[Mapping[str, Tensor], int], Options]:
    def options_of(sd: Mapping[str, Tensor], channels: int) -> Options:
        return {"reduction": channels // sd[prefix + "fc1.weight"].shape[0]}

    return options_of


# --- CBAM: the official gates are ChannelGate.mlp (a Sequential) and SpatialGate.spatial ------

_CBAM_KEYS = {
    "ChannelGate.mlp.1.": "channel_gate.fc1.",
    "ChannelGate.mlp.3.": "channel_gate.fc2.",
    "SpatialGate.spatial.conv.": "spatial_gate.conv.",
    "SpatialGate.spatial.bn.": "spatial_gate.bn.",
}
_CBAM_CHANNEL_KEYS = {"mlp.1.": "fc1.", "mlp.3.": "fc2."}
_NO_SPATIAL_PREFIX = "ChannelGate."  # the official CBAM(..., no_spatial=True) keeps this prefix


def _cbam_channel_from_official(sd: Mapping[str, Tensor]) -> StateDict:
    if sd and all(key.startswith(_NO_SPATIAL_PREFIX) for key in sd):
        sd = {key[len(_NO_SPATIAL_PREFIX):]: value for key, value in sd.items()}
    return rename_prefixes(sd, _CBAM_CHANNEL_KEYS)


# --- SA: 64 groups by default, which needs C % 128 == 0 ---------------------------------------


def _sa_groups(sd: Mapping[str, Tensor], channels: int) -> Options:
    return {"groups": channels // (2 * sd["cweight"].shape[1])}


def _sa_fallback(channels: int) -> tuple[Options, str] | None:
    """The largest G <= 64 with C % 2G == 0, where the default 64 does not divide C / 2."""
    if channels % 128 == 0 or channels % 2:
        return None
    groups = max(g for g in range(1, 65) if (channels // 2) % g == 0)
    return {"groups": groups}, f"groups={groups}: the default 64 needs C % 128 == 0"


_SA_PASSES = "1 read for each channel's mean and variance (both halves' statistics); 1 read + 1 write to gate"
_SA_TRAIN = (
    "forward 3; backward 4.5, its halves' average: the channel half as SE (read grad_y, x to reduce; read "
    "grad_y + write grad_x: 4), the GroupNorm half needs x again last (read grad_y, x for GroupNorm's two "
    "reductions; read grad_y, x + write grad_x: 5)"
)
_GATE_TRAIN = (  # training: the gate's gradient is a reduction over grad_y * x
    "forward 3 (read x to pool; read x + write y); backward 4 (read grad_y, x to reduce grad_y * x into "
    "the gate's gradient; read grad_y + write grad_x = grad_y * a + the pool's broadcast gradient)"
)


# --- ULSAM: G subspace modules officially, one grouped module here ----------------------------


def _ulsam_to_official(sd: Mapping[str, Tensor]) -> StateDict:
    return split_subspaces(sd, groups=sd["conv_point.weight"].shape[0])


# --- Coordinate Attention: mip = max(8, C // r) ------------------------------------------------

_COORD_KEYS = {"conv2.": "conv_h.", "conv3.": "conv_w."}  # the MobileNetV2 checkpoint's names


def _coord_reduction(sd: Mapping[str, Tensor], channels: int) -> Options:
    mip = sd["conv1.weight"].shape[0]
    return {"reduction": 32 if mip == max(8, channels // 32) else channels // mip}


def _get(options: Mapping[str, Any], key: str, default: int) -> int:
    return int(options.get(key, default))


#: One entry per registry name, the seven of ``ATTENTION_NAMES`` and the variant ``"sa_conv"``.
SPECS: dict[str, AttentionSpec] = {
    spec.name: spec
    for spec in (
        AttentionSpec(
            name="se",
            title="Squeeze-and-Excitation",
            build=SqueezeExcitation,
            passes=3,
            passes_why="1 read to average-pool x; 1 read + 1 write to gate it",
            train_passes=7, train_passes_why=_GATE_TRAIN,
            official=lambda c, **o: official.SELayer(c, _get(o, "reduction", 16)),
            from_official=_se_from_official,
            to_official=_se_to_official,
            options_of=_reduction_of(""),
            load_options={"bias": False},
            floor_target=2,
        ),
        AttentionSpec(
            name="eca",
            title="Efficient Channel Attention",
            build=EfficientChannelAttention,
            passes=3,
            passes_why="1 read to average-pool x; 1 read + 1 write to gate it",
            train_passes=7, train_passes_why=_GATE_TRAIN,
            official=lambda c, **o: official.ECALayer(c, _get(o, "kernel_size", 3)),
            options_of=lambda sd, c: {"kernel_size": sd["conv.weight"].shape[-1]},
            floor_target=2,
        ),
        AttentionSpec(
            name="cbam",
            title="CBAM",
            build=CBAM,
            passes=4,
            passes_why="1 read for the channel pools; 1 read to build the max/mean-over-channels map of "
            "the channel-gated x (gating on the fly, not stored); 1 read + 1 write to apply both gates",
            train_passes=10, train_passes_why="forward 4; backward 6: read grad_y, x for the spatial gate's "
            "gradient (sum over c of grad_y * x * a_c); read grad_y, x again for the channel gate's, which "
            "needs the spatial map's gradient first; read grad_y + write grad_x",
            official=lambda c, **o: official.CBAM(c, _get(o, "reduction", 16)),
            from_official=lambda sd: rename_prefixes(sd, _CBAM_KEYS),
            to_official=lambda sd: rename_prefixes(sd, inverse(_CBAM_KEYS)),
            options_of=_reduction_of("channel_gate."),
            floor_target=6,
        ),
        AttentionSpec(
            name="cbam_channel",
            title="CBAM's channel gate",
            build=ChannelGate,
            passes=3,
            passes_why="1 read for the average and max pools together; 1 read + 1 write to gate",
            train_passes=7, train_passes_why=_GATE_TRAIN + " (both pools in one read; the max pool's "
            "gradient: one element per channel)",
            official=lambda c, **o: official.ChannelGate(c, _get(o, "reduction", 16)),
            from_official=_cbam_channel_from_official,
            to_official=lambda sd: rename_prefixes(sd, inverse(_CBAM_CHANNEL_KEYS)),
            options_of=_reduction_of(""),
            floor_target=6,
        ),
        AttentionSpec(
            name="sa",
            title="Shuffle Attention",
            build=ShuffleAttention,
            passes=3,
            passes_why=_SA_PASSES,
            train_passes=7.5, train_passes_why=_SA_TRAIN,
            official=lambda c, **o: official.SALayer(c, _get(o, "groups", 64)),
            options_of=_sa_groups,
            fallback=_sa_fallback,
            floor_target=5,
        ),
        AttentionSpec(
            name="sa_conv",
            title="Shuffle Attention, 1x1-conv variant",
            build=ShuffleAttentionConv,
            passes=3,
            passes_why=_SA_PASSES + " (the channel-mixing spatial gate is computed per pixel while gating)",
            train_passes=7.5, train_passes_why=_SA_TRAIN + " (the 1x1 conv: per pixel, on the fly)",
            fallback=_sa_fallback,
        ),
        AttentionSpec(
            name="ulsam",
            title="ULSAM",
            build=ULSAM,
            passes=3,
            passes_why="1 read to build each subspace's H x W map (eval BN is an affine, the 3x3 max-pool "
            "a local stencil, the pointwise conv a sum over the subspace; the softmax acts on the small "
            "map); 1 read + 1 write for map * x + x. Training-mode BN needs an extra statistics read (4)",
            train_passes=10, train_passes_why="forward 4 (training BN reads for statistics before the map's "
            "read; read x + write y); backward 6 (read grad_y, x for the map's gradient, a sum over the "
            "subspace of grad_y * x; read x for BN backward via the max pool; read grad_y, x, write grad_x)",
            official=lambda c, **o: official.ULSAMLayer(c, _get(o, "groups", 4)),
            from_official=concat_subspaces,
            to_official=_ulsam_to_official,
            options_of=lambda sd, c: {"groups": sd["conv_point.weight"].shape[0]},
            floor_target=10,
        ),
        AttentionSpec(
            name="coord",
            title="Coordinate Attention",
            build=CoordinateAttention,
            passes=3,
            passes_why="1 read for both directional average pools (over W and over H); 1 read + 1 write to gate",
            train_passes=7, train_passes_why="forward 3; backward 4 (read grad_y, x once for both strips' "
            "gradients; read grad_y + write grad_x)",
            official=lambda c, **o: official.CoordAtt(c, c, _get(o, "reduction", 32)),
            from_official=lambda sd: rename_prefixes(sd, _COORD_KEYS),
            options_of=_coord_reduction,
            floor_target=5,
        ),
    )
}

#: The seven modules in the order the book introduces them. ``"sa_conv"`` (the seed blog's
#: 1x1-conv variant of SA) is registered too, but it is a variant, not a chapter of its own.
ATTENTION_NAMES: tuple[str, ...] = ("se", "eca", "cbam", "cbam_channel", "sa", "ulsam", "coord")


def spec(name: str) -> AttentionSpec:
    """The table entry for ``name``; a clear error for a name that is not registered."""
    try:
        return SPECS[name]
    except (KeyError, TypeError):
        raise ValueError(f"name={name!r} is not an attention module; choose one of {', '.join(SPECS)}") from None


def name_of(module: nn.Module) -> str:
    """The registry name whose module class ``module`` is an instance of, e.g. ``"se"``."""
    for entry in SPECS.values():
        if type(module) is entry.build:
            return entry.name
    raise ValueError(
        f"module: a {type(module).__name__} is not a registered attention module; "
        f"registered classes: {', '.join(getattr(s.build, '__name__', s.name) for s in SPECS.values())}"
    )
