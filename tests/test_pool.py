"""The shared pooling: means with the numbers of ``Tensor.mean`` and a gradient that is a view; maxima
that compile to ``amax``."""

from __future__ import annotations

import warnings

import pytest
import torch

from lightattn_ref import ATTENTION_NAMES, make_attention
from lightattn_ref.attention.pool import max_over, mean_over

DIMS = [([2, 3], False), ([2, 3], True), ([1], True), ([3], False), ([2], True)]


@pytest.mark.parametrize("dims,keepdim", DIMS)
def test_mean_over_equals_mean_bitwise(dims: list[int], keepdim: bool) -> None:
    x = torch.randn(3, 5, 7, 6) * 10 + 3
    assert torch.equal(mean_over(x, dims, keepdim), x.mean(dim=dims, keepdim=keepdim))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_mean_over_equals_mean_bitwise_in_other_precisions(dtype: torch.dtype) -> None:
    """Half-precision means round once, from a float32 sum, as PyTorch's own do."""
    x = (torch.randn(4, 64, 13, 11) * 3 + 1).to(dtype)
    got = mean_over(x, [2, 3])
    assert got.dtype == dtype
    assert torch.equal(got, x.mean(dim=(2, 3)))


@pytest.mark.parametrize("dims,keepdim", DIMS)
def test_mean_over_gradient_equals_mean_gradient(dims: list[int], keepdim: bool) -> None:
    x = torch.randn(3, 5, 7, 6, requires_grad=True)
    g_out = torch.randn_like(x.mean(dim=dims, keepdim=keepdim))
    (expected,) = torch.autograd.grad(x.mean(dim=dims, keepdim=keepdim), x, g_out)
    (got,) = torch.autograd.grad(mean_over(x, dims, keepdim), x, g_out)
    assert torch.equal(got, expected)


def test_mean_over_gradient_is_a_broadcast_view_not_a_full_tensor() -> None:
    """The point of the helper: the pooled axes of the gradient have stride 0 (no memory
    written for them), where ``Tensor.mean``'s gradient is a dense tensor the size of x."""
    x = torch.randn(2, 4, 5, 6, requires_grad=True)
    (view,) = torch.autograd.grad(mean_over(x, [2, 3]).sum(), x)
    (dense,) = torch.autograd.grad(x.mean(dim=(2, 3)).sum(), x)
    assert view.stride()[2:] == (0, 0)
    assert dense.stride() == x.stride()
    assert torch.equal(view, dense)


def backward_nodes(output: torch.Tensor) -> set[str]:
    """Names of every node in the autograd graph that computes ``output``."""
    names, stack, seen = set(), [output.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_no_module_trains_through_a_dense_mean_gradient(name: str) -> None:
    """Every module that averages x pools with ``mean_over``: its training graph holds sums, no means."""
    module = make_attention(name, 128).train()
    nodes = backward_nodes(module(torch.randn(2, 128, 6, 5, requires_grad=True)))
    assert not any(n.startswith("MeanBackward") for n in nodes), sorted(nodes)
    if name != "ulsam":  # ULSAM pools with a max and a softmax, no average
        assert any(n.startswith("SumBackward") for n in nodes), sorted(nodes)


def test_mean_over_refuses_an_empty_dims_list() -> None:
    """``sum(dim=[])`` would reduce every axis while the count stayed 1: a silently wrong mean."""
    with pytest.raises(ValueError, match=r"dims must name at least one axis"):
        mean_over(torch.randn(2, 3), [])


def test_mean_over_scripts() -> None:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning)
        scripted = torch.jit.script(mean_over)
    x = torch.randn(2, 3, 4, 5)
    assert torch.equal(scripted(x, [2, 3], True), x.mean(dim=(2, 3), keepdim=True))


def test_max_over_equals_max_and_compiles_to_amax() -> None:
    x = torch.randn(2, 3, 5, requires_grad=True)
    y = max_over(x, 2, keepdim=True)
    torch.testing.assert_close(y, x.max(dim=2, keepdim=True).values)
    (grad,) = torch.autograd.grad(y.sum(), x)
    assert grad.sum().item() == 6 and ((grad == 0) | (grad == 1)).all()  # one maximum per row
    seen: list[str] = []

    def backend(gm: torch.fx.GraphModule, example_inputs: list) -> object:
        seen.extend(str(n.target) for n in gm.graph.nodes if n.op in ("call_function", "call_method"))
        return gm.forward

    compiled = torch.compile(lambda t: max_over(t, 1), backend=backend, fullgraph=True)
    torch.testing.assert_close(compiled(x), x.max(dim=1).values)
    assert any("amax" in target for target in seen), seen


def test_max_over_shares_the_gradient_of_ties_only_when_compiled() -> None:
    x = torch.zeros(1, 4, requires_grad=True)  # four tied maxima
    (eager,) = torch.autograd.grad(max_over(x, 1).sum(), x)
    (compiled,) = torch.autograd.grad(torch.compile(lambda t: max_over(t, 1))(x).sum(), x)
    assert eager.sum().item() == 1 and eager.count_nonzero().item() == 1
    torch.testing.assert_close(compiled, torch.full((1, 4), 0.25))
