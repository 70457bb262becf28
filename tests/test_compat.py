"""The version-dependent PyTorch APIs sit behind ``lightattn_ref._compat``, with fallbacks that work.

The tests delete the APIs from this torch, as an older (or a later) release would lack them, and
check the fallbacks and that every module still runs.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from torch.utils import _python_dispatch
from torch.utils.flop_counter import FlopCounterMode

import lightattn_ref.attention as attention_package
from conftest import randomize
from lightattn_ref import _compat
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
)

C = 32
MODULES = {
    "se": lambda: SqueezeExcitation(C, reduction=4),
    "eca": lambda: EfficientChannelAttention(C),
    "channel_gate": lambda: ChannelGate(C, reduction=4),
    "spatial_gate": lambda: SpatialGate(),
    "cbam": lambda: CBAM(C, reduction=4),
    "sa": lambda: ShuffleAttention(C, groups=4),
    "sa_conv": lambda: ShuffleAttentionConv(C, groups=4),
    "ulsam": lambda: ULSAM(C),
    "coord": lambda: CoordinateAttention(C),
}


def remove_compiler_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A torch with neither torch.compiler.is_compiling (2.3+) nor torch._dynamo.is_compiling."""
    import torch._dynamo  # noqa: F401  (loaded, so that deleting its attribute sticks)

    monkeypatch.delattr(torch.compiler, "is_compiling")
    monkeypatch.delattr(torch._dynamo, "is_compiling")


def test_is_compiling_uses_the_public_api_where_there_is_one() -> None:
    assert _compat.is_compiling() is False
    assert torch.compile(lambda x: x + _compat.is_compiling(), fullgraph=True)(torch.zeros(1)).item() == 1


def test_is_compiling_falls_back_to_dynamo_then_to_false(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch._dynamo

    monkeypatch.delattr(torch.compiler, "is_compiling")
    monkeypatch.setattr(torch._dynamo, "is_compiling", lambda: True)  # what torch 2.1 and 2.2 have
    assert _compat.is_compiling() is True
    monkeypatch.delattr(torch._dynamo, "is_compiling")
    assert _compat.is_compiling() is False


def test_is_in_torch_dispatch_mode_and_its_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _compat.is_in_torch_dispatch_mode() is False
    with FlopCounterMode(display=False):
        assert _compat.is_in_torch_dispatch_mode() is True
        monkeypatch.delattr(_python_dispatch, "is_in_torch_dispatch_mode")
        assert _compat.is_in_torch_dispatch_mode() is False  # no such helper: nothing to ask


@pytest.mark.parametrize("name", MODULES)
def test_every_module_runs_without_version_dependent_apis(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = randomize(MODULES[name]())
    x = torch.randn(2, C, 7, 5)
    with torch.no_grad():
        expected_eval = module.eval()(x)
    remove_compiler_check(monkeypatch)
    monkeypatch.delattr(_python_dispatch, "is_in_torch_dispatch_mode")
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x), expected_eval)
    y = module.train()(x.clone().requires_grad_(True))
    y.sum().backward()
    assert y.shape == x.shape and torch.isfinite(y).all()


def _dotted(node: ast.AST) -> str:
    """``torch.compiler.is_compiling`` for the expression that names it, else ""."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else ""


VERSION_DEPENDENT = ("torch.compiler", "torch._dynamo", "torch.utils._python_dispatch")


def test_the_attention_package_reaches_version_dependent_apis_only_through_compat() -> None:
    for path in Path(attention_package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            used = ""
            if isinstance(node, ast.Attribute):
                used = _dotted(node)
            elif isinstance(node, ast.ImportFrom):
                used = node.module or ""
            elif isinstance(node, ast.Import):
                used = " ".join(alias.name for alias in node.names)
            assert not any(api in used for api in VERSION_DEPENDENT), f"{path.name}:{node.lineno}: {used}"
