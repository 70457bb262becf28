"""Under torch.compile in inference, ULSAM hands the compiler its pool-and-sum as one operator.

``attention/ops.py`` registers the operator with ``torch.library.custom_op``. These tests check
that it meets PyTorch's own contract (``torch.library.opcheck``: schema, fake tensor, autograd
registration), that the compiled graph holds it exactly where ``use_compiled_op`` says
(inference, ``fast=True``) and nowhere else, that no other module's graph holds one, and that
the compiled module equals the eager one.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from lightattn_ref import make_attention
from lightattn_ref.attention import ops
from lightattn_ref.attention._checks import use_compiled_op

CHANNELS = 64
#: The module of each registry name that calls an operator under compilation, and the operator.
OPERATORS = {"ulsam": "ulsam_pooled_pointwise"}


@pytest.fixture(autouse=True)
def fresh_compile_caches() -> None:
    torch.compiler.reset()  # each test compiles new instances of the same classes: no recompile limit


def build(name: str, fast: bool = True) -> nn.Module:
    torch.manual_seed(0)
    module = make_attention(name, CHANNELS, fast=fast)
    with torch.no_grad():  # off the initial values, with BatchNorm statistics to fold
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
        for bn in (m for m in module.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    return module


def operators_in_graph(module: nn.Module, x: torch.Tensor) -> set[str]:
    """The lightattn operators in the graph Dynamo captures for ``module(x)`` (run eagerly)."""
    found: set[str] = set()

    def backend(gm: torch.fx.GraphModule, example_inputs: list) -> object:
        found.update(str(n.target) for n in gm.graph.nodes if "lightattn" in str(n.target))
        return gm.forward

    torch.compile(module, backend=backend, fullgraph=True, dynamic=False)(x)
    return {name.split(".")[1] for name in found}  # "lightattn.scale.default" -> "scale"


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_inference_graph_holds_the_operator(name: str) -> None:
    module = build(name).eval()
    x = torch.randn(2, CHANNELS, 9, 7)
    with torch.inference_mode():
        assert operators_in_graph(module, x) == {OPERATORS[name]}
    with torch.no_grad():
        assert operators_in_graph(module, x) == {OPERATORS[name]}


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_no_operator_in_training_with_autograd_or_with_fast_off(name: str) -> None:
    x = torch.randn(2, CHANNELS, 9, 7)
    assert operators_in_graph(build(name).train(), x) == set()  # autograd on: the textbook form
    assert operators_in_graph(build(name).eval(), x) == set()
    with torch.no_grad():
        assert operators_in_graph(build(name, fast=False).eval(), x) == set()


@pytest.mark.parametrize("name", ["se", "eca", "cbam", "cbam_channel", "sa", "coord"])
def test_the_other_modules_compile_their_textbook_form(name: str) -> None:
    channels = 128 if name == "sa" else CHANNELS
    module = make_attention(name, channels).eval()
    with torch.no_grad():
        assert operators_in_graph(module, torch.randn(2, channels, 9, 7)) == set()


@pytest.mark.parametrize("name", ["ulsam"])
def test_no_operator_where_batchnorm_is_in_training_mode(name: str) -> None:
    # the fast paths fold running statistics, which training mode does not use
    with torch.no_grad():
        assert operators_in_graph(build(name).train(), torch.randn(2, CHANNELS, 9, 7)) == set()


@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
def test_compiled_inference_equals_eager(name: str, channels_last: bool) -> None:
    module = build(name).eval()
    x = torch.randn(2, CHANNELS, 9, 7)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    compiled = torch.compile(module, fullgraph=True, dynamic=False)
    with torch.inference_mode():
        expected, y = module(x), compiled(x)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)
    assert y.shape == x.shape


def test_the_operator_meets_pytorchs_contract() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, 5, 6, generator=gen)
    scale, shift = torch.rand(8, generator=gen), torch.rand(8, generator=gen)
    weight, bias = torch.rand(2, 4, generator=gen), torch.rand(2, generator=gen)
    for use_c_kernel in (True, False):
        args = (x, scale, shift, weight, bias, 2**16, use_c_kernel)
        results = torch.library.opcheck(ops.POOLED_POINTWISE_OP, args)
        assert all(v == "SUCCESS" for v in results.values()), results


def test_export_and_torchscript_never_see_the_operator() -> None:
    module = build("ulsam").eval()
    x = torch.randn(2, CHANNELS, 9, 7)
    with torch.no_grad():
        exported = torch.export.export(module, (x,))
    assert not any("lightattn" in str(n.target) for n in exported.graph.nodes)
    scripted = torch.jit.script(module)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), module(x))


def test_use_compiled_op_outside_a_compiler_is_false() -> None:
    with torch.no_grad():
        assert not use_compiled_op(True, False)
        assert torch.compile(lambda t: t + use_compiled_op(True, False), fullgraph=True)(torch.zeros(1)) == 1
    assert torch.compile(lambda t: t + use_compiled_op(True, False), fullgraph=True)(torch.zeros(1)) == 0
