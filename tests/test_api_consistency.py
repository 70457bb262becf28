"""One interface across the attention modules: the same option names and checks for the same ideas,
``extra_repr`` with the options, the ``AttentionModule`` protocol, and ``device`` / ``dtype``."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch
from torch import nn

from lightattn_ref.attention import (
    CBAM,
    ULSAM,
    AttentionModule,
    ChannelGate,
    CoordinateAttention,
    EfficientChannelAttention,
    ShuffleAttention,
    ShuffleAttentionConv,
    SpatialGate,
    SqueezeExcitation,
)

C = 32
CLASSES = [SqueezeExcitation, EfficientChannelAttention, ChannelGate, SpatialGate, CBAM, ShuffleAttention,
           ShuffleAttentionConv, ULSAM, CoordinateAttention]
IDS = [cls.__name__ for cls in CLASSES]
#: options for a small, valid module of each class
OPTIONS = {ShuffleAttention: {"groups": 4}, ShuffleAttentionConv: {"groups": 4}}
#: what extra_repr must show: every constructor option, by its name
REPR = {
    SqueezeExcitation: ["channels=32", "reduction=16", "bias=True", "fast=True"],
    EfficientChannelAttention: ["channels=32", "kernel_size=3", "fast=True"],
    ChannelGate: ["channels=32", "reduction=16", "fast=True"],
    SpatialGate: ["spatial_kernel_size=7", "fast=True"],
    CBAM: ["channels=32", "reduction=16", "spatial_kernel_size=7", "fast=True"],
    ShuffleAttention: ["channels=32", "groups=4", "fast=True"],
    ShuffleAttentionConv: ["channels=32", "groups=4", "fast=True"],
    ULSAM: ["channels=32", "groups=4", "bn_momentum=0.9", "fast=True", "use_c_kernel=True"],
    CoordinateAttention: ["channels=32", "reduction=32", "mip=8", "fast=True"],
}


def build(cls: type[nn.Module], **factory: object) -> nn.Module:
    if cls is SpatialGate:
        return cls(**factory)
    return cls(C, **OPTIONS.get(cls, {}), **factory)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_signature_is_channels_then_keyword_options(cls: type[nn.Module]) -> None:
    parameters = list(inspect.signature(cls).parameters.values())
    positional = [p.name for p in parameters if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    assert positional == ([] if cls is SpatialGate else ["channels"])
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert {"fast", "device", "dtype"} <= keywords


# --- the same name and the same check for the same idea -------------------------------------------

REDUCTION_CLASSES = [SqueezeExcitation, ChannelGate, CBAM, CoordinateAttention]


BAD_REDUCTIONS = [(0, ValueError), (-4, ValueError), (2.0, TypeError), (True, TypeError)]


@pytest.mark.parametrize(("reduction", "error"), BAD_REDUCTIONS)
def test_reduction_is_checked_by_one_rule_with_one_message(reduction: object, error: type) -> None:
    messages = set()
    for cls in REDUCTION_CLASSES:
        with pytest.raises(error, match="reduction") as info:
            cls(C, reduction=reduction)
        messages.add(str(info.value))
    assert len(messages) == 1, messages


def test_reduction_larger_than_channels() -> None:
    """SE and CBAM would have C // r = 0 hidden units; Coordinate Attention keeps mip = max(8, C // r)."""
    for cls in (SqueezeExcitation, ChannelGate, CBAM):
        with pytest.raises(ValueError, match="reduction=64 must not exceed channels=32"):
            cls(C, reduction=64)
    assert CoordinateAttention(C, reduction=64).mip == 8


def test_one_name_for_the_spatial_kernel_size() -> None:
    assert SpatialGate(spatial_kernel_size=5).spatial_kernel_size == 5
    cbam = CBAM(C, spatial_kernel_size=3)
    assert cbam.spatial_kernel_size == 3 and cbam.spatial_gate.spatial_kernel_size == 3
    assert cbam.spatial_gate.conv.kernel_size == (3, 3)
    with pytest.raises(TypeError, match="kernel_size"):
        SpatialGate(kernel_size=7)  # type: ignore[call-arg]
    for make in (lambda k: SpatialGate(spatial_kernel_size=k), lambda k: CBAM(C, spatial_kernel_size=k)):
        with pytest.raises(ValueError, match="spatial_kernel_size=4 must be odd"):
            make(4)
        with pytest.raises(ValueError, match="spatial_kernel_size=0 must be a positive integer"):
            make(0)


def test_groups_is_the_name_for_groups_and_subspaces() -> None:
    for cls in (ShuffleAttention, ShuffleAttentionConv, ULSAM):
        assert "groups" in inspect.signature(cls).parameters
        with pytest.raises(ValueError, match="groups"):
            cls(C, groups=0)


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_extra_repr_shows_the_options(cls: type[nn.Module]) -> None:
    text = repr(build(cls))
    for option in REPR[cls]:
        assert option in text, f"{option!r} missing from {text!r}"


# --- the protocol ------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_every_module_satisfies_the_protocol(cls: type[nn.Module]) -> None:
    module = build(cls).eval()
    assert isinstance(module, AttentionModule)
    x = torch.randn(2, C, 5, 4)
    y, maps = module(x), module.attention_maps(x)
    assert isinstance(y, torch.Tensor) and y.shape == x.shape
    assert maps and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in maps.items())


def test_a_plain_layer_is_not_an_attention_module() -> None:
    assert not isinstance(nn.Conv2d(3, 3, 1), AttentionModule)


# --- device and dtype, as PyTorch's own layers take them ---------------------------------------


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_device_reaches_every_parameter_and_buffer(cls: type[nn.Module]) -> None:
    module = build(cls, device="meta")
    tensors = [*module.parameters(), *module.buffers()]
    assert tensors and all(t.device.type == "meta" for t in tensors)
    with torch.no_grad():
        assert module.eval()(torch.empty(2, C, 5, 4, device="meta")).device.type == "meta"


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_dtype_reaches_every_parameter_and_buffer_and_the_module_runs_in_it(cls: type[nn.Module]) -> None:
    module = build(cls, dtype=torch.float64)
    floating = [t for t in (*module.parameters(), *module.buffers()) if t.is_floating_point()]
    assert floating and all(t.dtype == torch.float64 for t in floating)
    counters = [b for name, b in module.named_buffers() if name.endswith("num_batches_tracked")]
    assert all(b.dtype == torch.int64 for b in counters)  # as in PyTorch's BatchNorm
    x = torch.randn(2, C, 5, 4, dtype=torch.float64)
    for training in (False, True):
        with torch.set_grad_enabled(training):
            y = module.train(training)(x)
        assert y.dtype == torch.float64 and torch.isfinite(y).all()


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
def test_a_float64_module_equals_a_converted_one(cls: type[nn.Module]) -> None:
    made = build(cls, dtype=torch.float64).eval()
    converted = build(cls).double().eval()
    converted.load_state_dict(made.state_dict())
    x = torch.randn(2, C, 5, 4, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(made(x), converted(x))


def test_the_package_cites_papers_and_official_files_not_internal_notes() -> None:
    package = Path(__import__("lightattn_ref.attention").attention.__file__).parent
    for path in package.glob("*.py"):
        assert "FACTS" not in path.read_text(), path.name
