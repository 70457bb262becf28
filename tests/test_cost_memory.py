"""Peak memory of one training forward + backward, against bytes computed by hand."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import nn
from torch.profiler import ProfilerActivity

from lightattn_ref.cost import peak_memory
from lightattn_ref.cost.memory import _allocation_events, _peak_allocated
from lightattn_ref.registry import ATTENTION_NAMES, make_attention


def test_peak_memory_of_sigmoid_is_output_plus_input_gradient() -> None:
    shape = (2, 16, 8, 8)
    x_bytes = math.prod(shape) * 4
    assert peak_memory(nn.Sigmoid(), shape) == 2 * x_bytes  # y (saved for backward) + dL/dx
    assert peak_memory(nn.Sigmoid(), (4, 16, 8, 8)) == 4 * x_bytes  # linear in N
    assert peak_memory(nn.Identity(), shape) == 0  # x, grad_output existed before: nothing new


def test_peak_memory_of_attention_holds_at_least_output_and_gradient() -> None:
    shape = (2, 64, 8, 8)
    x_bytes = math.prod(shape) * 4
    se = make_attention("se", 64)
    assert 2 * x_bytes <= peak_memory(se, shape) < 8 * x_bytes
    assert all(p.grad is None for p in se.parameters())


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_peak_memory_is_at_least_the_new_output_and_the_input_gradient(name: str) -> None:
    # every module returns a new tensor as large as x, alive while backward writes dL/dx (as large again)
    shape = (2, 128, 6, 6)
    x_bytes = math.prod(shape) * 4
    assert peak_memory(make_attention(name, 128), shape) >= 2 * x_bytes


def test_the_trace_gives_the_profilers_own_event_sum() -> None:
    """The public trace holds the same allocation events as the profiler's private list (when present)."""
    model = make_attention("cbam", 32).train()
    x = torch.randn(2, 32, 6, 6, requires_grad=True)
    grad_out = torch.ones_like(x)
    model(x)  # warm-up
    with torch.profiler.profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        torch.autograd.grad(model(x), [x, *model.parameters()], grad_out)
    events = _allocation_events(prof)
    assert events and sum(nbytes for _, nbytes in events) <= 0  # everything allocated was freed
    private = getattr(getattr(prof, "profiler", None), "kineto_results", None)
    if private is None:
        pytest.skip("this PyTorch has no private event list to compare with")
    memory = sorted((e for e in private.events() if e.name() == "[memory]"), key=lambda e: e.start_ns())
    live = peak = 0
    for event in memory:
        live += event.nbytes()
        peak = max(peak, live)
    assert len(memory) == len(events) and _peak_allocated(events) == peak


def test_peak_memory_leaves_the_module_alone() -> None:
    cbam = make_attention("cbam", 32).train()
    before = copy.deepcopy(cbam.state_dict())
    peak_memory(cbam, (2, 32, 4, 4))
    assert all(torch.equal(before[k], v) for k, v in cbam.state_dict().items())
    assert all(p.grad is None for p in cbam.parameters())
