"""Every module's ``fast`` switch: the same numbers either way, and a switch that really switches.

- fast=True and fast=False give the same outputs (eval under ``no_grad`` and ``inference_mode``)
  and the same outputs and gradients in training, at odd H, W and for channels_last input.
- fast=False never calls a function of the ``*_fast.py`` files; fast=True in eager inference calls
  the module's fast path.
- The CPU-only paths (ULSAM's chunked pool, C kernel and in-place max-pool) are not taken for a
  tensor on another device, while the paths valid everywhere still are.
- Tracers and exporters record the textbook form. (``torch.compile``: tests/test_compile.py.)
"""

from __future__ import annotations

import copy
import inspect
import warnings
from types import ModuleType
from typing import Callable

import pytest
import torch
from torch import nn

from conftest import randomize
from lightattn_ref.attention import (
    CBAM,
    ULSAM,
    ChannelGate,
    CoordinateAttention,
    EfficientChannelAttention,
    ShuffleAttention,
    ShuffleAttentionConv,
    SpatialGate,
    SqueezeExcitation,
    cbam_fast,
    coord_fast,
    shuffle_fast,
    ulsam_fast,
)
from lightattn_ref.attention._checks import use_fast_path

C = 24
FAST_MODULES = (cbam_fast, coord_fast, shuffle_fast, ulsam_fast)

#: name -> builder(fast, **factory); the classes themselves, not the registry
BUILDERS: dict[str, Callable[..., nn.Module]] = {
    "se": lambda fast, **f: SqueezeExcitation(C, reduction=4, fast=fast, **f),
    "eca": lambda fast, **f: EfficientChannelAttention(C, kernel_size=5, fast=fast, **f),
    "channel_gate": lambda fast, **f: ChannelGate(C, reduction=4, fast=fast, **f),
    "spatial_gate": lambda fast, **f: SpatialGate(spatial_kernel_size=5, fast=fast, **f),
    "cbam": lambda fast, **f: CBAM(C, reduction=4, fast=fast, **f),
    "sa": lambda fast, **f: ShuffleAttention(C, groups=4, fast=fast, **f),
    "sa_odd_groups": lambda fast, **f: ShuffleAttention(C, groups=3, fast=fast, **f),
    "sa_conv": lambda fast, **f: ShuffleAttentionConv(C, groups=4, fast=fast, **f),
    "ulsam": lambda fast, **f: ULSAM(C, groups=4, fast=fast, **f),
    "ulsam_no_kernel": lambda fast, **f: _without_kernel(ULSAM(C, groups=4, fast=fast, **f)),
    "coord": lambda fast, **f: CoordinateAttention(C, reduction=4, fast=fast, **f),
}
NAMES = list(BUILDERS)

#: the fast functions eager inference in eval mode must call (SE, ECA and the SA conv variant have none)
EVAL_CALLS: dict[str, set[str]] = {
    "se": set(),
    "eca": set(),
    "channel_gate": {"cbam_fast.max_over_map"},
    "spatial_gate": {"cbam_fast.max_over_channels"},
    "cbam": {"cbam_fast.max_over_map", "cbam_fast.max_over_channels", "cbam_fast.scale_in_place"},
    "sa": {"shuffle_fast.gate_into_shuffled", "shuffle_fast.folded_group_norm"},
    "sa_odd_groups": {"shuffle_fast.folded_group_norm"},
    "sa_conv": set(),
    "ulsam": {"ulsam_fast.pooled_pointwise" + ("_c" if ulsam_fast.C_KERNEL is not None else "")},
    "ulsam_no_kernel": {"ulsam_fast.pooled_pointwise"},
    "coord": {"coord_fast.gates", "coord_fast.fold_conv_batchnorm", "coord_fast.gate_in_place"},
}
#: the fast functions valid with autograd on, which a training step with fast=True calls
TRAIN_CALLS: dict[str, set[str]] = {
    "sa": {"shuffle_fast.stack_shuffled", "shuffle_fast.folded_group_norm"},
    "sa_odd_groups": {"shuffle_fast.folded_group_norm"},
    "ulsam": {"ulsam_fast.depthwise_1x1"},
    "ulsam_no_kernel": {"ulsam_fast.depthwise_1x1"},
}
INFERENCE_ONLY = {
    "cbam_fast.max_over_map", "cbam_fast.max_over_channels",
    "cbam_fast.scale_in_place", "shuffle_fast.gate_into_shuffled", "ulsam_fast.pooled_pointwise",
    "ulsam_fast.pooled_pointwise_c", "ulsam_fast.max_pool_3x3_", "coord_fast.gates",
    "coord_fast.gate_in_place",
}

SHAPES = [(2, C, 7, 5), (3, C, 5, 9), (2, C, 1, 3)]
LAYOUTS = [torch.contiguous_format, torch.channels_last]


def _without_kernel(module: ULSAM) -> ULSAM:
    module.use_c_kernel = False
    return module


def pair(name: str) -> tuple[nn.Module, nn.Module]:
    """The module with fast=True and with fast=False, holding the same random weights and statistics."""
    fast = randomize(BUILDERS[name](True))
    textbook = BUILDERS[name](False)
    textbook.load_state_dict(fast.state_dict())
    assert fast.fast and not textbook.fast
    return fast, textbook


def sample(shape: tuple[int, ...], layout: torch.memory_format, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).contiguous(memory_format=layout)


def fast_functions() -> dict[str, tuple[ModuleType, str]]:
    """Every function defined in a ``*_fast.py`` file, as ``"eca_fast.channel_gate" -> (module, name)``."""
    found = {}
    for module in FAST_MODULES:
        for attr, value in vars(module).items():
            if inspect.isfunction(value) and value.__module__ == module.__name__:
                found[f"{module.__name__.rsplit('.', 1)[1]}.{attr}"] = (module, attr)
    return found


def record_calls(monkeypatch: pytest.MonkeyPatch, fail: bool = False) -> set[str]:
    """Wrap every fast function so that a call is recorded (or, with ``fail``, raises)."""
    called: set[str] = set()
    for key, (module, attr) in fast_functions().items():
        original = getattr(module, attr)

        def wrapper(*args, _key=key, _original=original, **kwargs):  # noqa: ANN002, ANN003
            if fail:
                raise AssertionError(f"{_key} was called")
            called.add(_key)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, attr, wrapper)
    return called


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s[2:])))
@pytest.mark.parametrize("layout", LAYOUTS, ids=["nchw", "channels_last"])
@pytest.mark.parametrize("grad_mode", [torch.no_grad, torch.inference_mode], ids=["no_grad", "inference"])
def test_eval_outputs_are_the_same(name: str, shape: tuple[int, ...], layout, grad_mode) -> None:
    fast, textbook = (m.eval() for m in pair(name))
    x = sample(shape, layout)
    with grad_mode():
        y_fast, y_textbook = fast(x), textbook(x)
        maps_fast, maps_textbook = fast.attention_maps(x), textbook.attention_maps(x)
    torch.testing.assert_close(y_fast, y_textbook, rtol=1e-5, atol=1e-5)
    assert y_fast.is_contiguous(memory_format=layout) == y_textbook.is_contiguous(memory_format=layout)
    assert maps_fast.keys() == maps_textbook.keys()
    for key in maps_fast:
        torch.testing.assert_close(maps_fast[key], maps_textbook[key], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", SHAPES[:2], ids=lambda s: "x".join(map(str, s[2:])))
@pytest.mark.parametrize("layout", LAYOUTS, ids=["nchw", "channels_last"])
def test_training_outputs_and_gradients_are_the_same(name: str, shape: tuple[int, ...], layout) -> None:
    fast, textbook = (m.train() for m in pair(name))
    x = sample(shape, layout)
    weight = torch.randn(shape, generator=torch.Generator().manual_seed(1))  # a different gradient everywhere

    def step(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        x_in = x.clone().requires_grad_(True)
        y = module(x_in)
        params = dict(module.named_parameters())
        g_x, *g_params = torch.autograd.grad((y * weight).sum(), [x_in, *params.values()])
        return y.detach(), g_x, dict(zip(params, g_params))

    (y_f, gx_f, gp_f), (y_t, gx_t, gp_t) = step(fast), step(textbook)
    torch.testing.assert_close(y_f, y_t, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(gx_f, gx_t, rtol=1e-5, atol=1e-5)
    assert gp_f.keys() == gp_t.keys()
    for key in gp_f:
        torch.testing.assert_close(gp_f[key], gp_t[key], rtol=1e-5, atol=1e-5,
                                   msg=lambda m, k=key: f"{k}: {m}")
    for key, value in fast.state_dict().items():  # the same running statistics after the step
        torch.testing.assert_close(value, textbook.state_dict()[key], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_fast_false_never_calls_a_fast_function(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, textbook = pair(name)
    record_calls(monkeypatch, fail=True)
    x = sample(SHAPES[0], torch.contiguous_format)
    for training in (False, True):
        textbook.train(training)
        with torch.no_grad():
            textbook(x), textbook.attention_maps(x)
        with torch.inference_mode():
            textbook(x)
        textbook(x.clone().requires_grad_(True)).sum().backward()


@pytest.mark.parametrize("name", NAMES)
def test_fast_true_takes_the_fast_path_in_eager_inference(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, _ = pair(name)
    called = record_calls(monkeypatch)
    x = sample(SHAPES[0], torch.contiguous_format)
    with torch.no_grad():
        fast.eval()(x)
    assert called >= EVAL_CALLS[name], f"eval under no_grad called {sorted(called)}"
    called.clear()
    fast.train()(x.clone().requires_grad_(True)).sum().backward()
    assert called == TRAIN_CALLS.get(name, set()), f"a training step called {sorted(called)}"
    assert not called & INFERENCE_ONLY


@pytest.mark.parametrize("name", NAMES)
def test_the_switch_can_be_flipped_after_construction(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = randomize(BUILDERS[name](True)).eval()
    x = sample(SHAPES[0], torch.contiguous_format)
    with torch.no_grad():
        expected = module(x)
        module.fast = False
        assert "fast=False" in repr(module)
        record_calls(monkeypatch, fail=True)
        torch.testing.assert_close(module(x), expected, rtol=1e-5, atol=1e-5)


def test_ulsam_pools_in_place_in_training_mode_without_autograd(monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-place max-pool needs autograd off, not eval mode (it folds no BatchNorm)."""
    fast, textbook = (m.train() for m in pair("ulsam"))
    called = record_calls(monkeypatch)
    x = sample(SHAPES[0], torch.contiguous_format)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), textbook(x), rtol=1e-5, atol=1e-5)
    assert {"ulsam_fast.max_pool_3x3_", "ulsam_fast.depthwise_1x1"} <= called
    assert not called & {"ulsam_fast.pooled_pointwise", "ulsam_fast.pooled_pointwise_c"}  # these fold eval BN


def test_cbam_decides_for_both_of_its_gates(monkeypatch: pytest.MonkeyPatch) -> None:
    """A CBAM's own switch rules its gates: ``cbam.fast = False`` is the textbook form throughout."""
    cbam = randomize(CBAM(C, reduction=4)).eval()
    cbam.fast = False
    record_calls(monkeypatch, fail=True)
    with torch.no_grad():
        cbam(sample(SHAPES[0], torch.contiguous_format))


# --- the device rule: CPU-only paths stay on the CPU ----------------------------------------------


def test_use_fast_path_reads_the_device_for_cpu_only_paths() -> None:
    cpu, meta = torch.empty(2, 3), torch.empty(2, 3, device="meta")
    with torch.no_grad():
        assert use_fast_path(True, False, cpu, cpu_only=True)
        assert not use_fast_path(True, False, meta, cpu_only=True)
        assert use_fast_path(True, False, meta)  # a path valid on any device


@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_ulsam_keeps_cpu_only_paths_off_other_devices(training: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """On the meta device (no data, any shape) ULSAM runs without its CPU-only functions; the same
    module on the CPU calls them, so the device is what decides."""
    cpu_only = {"ulsam_fast.pooled_pointwise", "ulsam_fast.pooled_pointwise_c", "ulsam_fast.max_pool_3x3_",
                "ulsam_fast.c_kernel_applies"}
    called = record_calls(monkeypatch)
    module = ULSAM(C, groups=4, device="meta").train(training)
    with torch.no_grad():
        y = module(torch.empty(2, C, 7, 5, device="meta"))
    assert y.device.type == "meta" and y.shape == (2, C, 7, 5)
    assert not called & cpu_only, sorted(called)
    assert "ulsam_fast.depthwise_1x1" in called  # valid on any device, so still taken
    with torch.no_grad():
        ULSAM(C, groups=4).train(training)(torch.randn(2, C, 7, 5))
    assert called & cpu_only


@pytest.mark.parametrize("name", ["eca", "cbam", "sa", "coord"])
def test_paths_valid_on_any_device_run_on_meta(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    called = record_calls(monkeypatch)
    module = BUILDERS[name](True, device="meta").eval()
    with torch.no_grad():
        y = module(torch.empty(2, C, 7, 5, device="meta"))
    assert y.shape == (2, C, 7, 5)
    assert called >= EVAL_CALLS[name]


def test_fast_is_keyword_only_and_on_by_default() -> None:
    for name, build in BUILDERS.items():
        module = build(True)
        cls = type(module)
        parameter = inspect.signature(cls).parameters["fast"]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is True, name
        assert "fast" in (cls.__doc__ or ""), f"{cls.__name__} does not document fast"
        assert "fast=True" in module.extra_repr()
        assert copy.deepcopy(module).fast is True


@pytest.mark.parametrize("name", NAMES)
def test_tracers_and_exporters_record_the_textbook_form(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``torch.jit.trace`` and ``torch.export`` see the textbook operations, even in eager inference."""
    module = randomize(BUILDERS[name](True)).eval()
    x = sample(SHAPES[0], torch.contiguous_format)
    called = record_calls(monkeypatch)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
        traced = torch.jit.trace(module, x, check_trace=False)
        exported = torch.export.export(module, (x,))
    assert not called & INFERENCE_ONLY, sorted(called)
    with torch.no_grad():
        expected = module(x)
        torch.testing.assert_close(traced(x), expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(exported.module()(x), expected, rtol=1e-5, atol=1e-5)
