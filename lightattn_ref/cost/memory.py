"""Peak memory of one training forward + backward pass, from the profiler's allocation events.

The peak is the largest running sum of every allocation (+) and free (-) that PyTorch's CPU
allocator reports to ``torch.profiler`` with ``profile_memory=True``, in the order they happened.

Why a trace file: the profiler's public per-operator fields (``prof.events()`` and
``prof.key_averages()``, ``cpu_memory_usage``) hold each operator's *net* allocation, so a
temporary allocated and freed inside one operator (the autograd engine's backward steps, a
kernel's scratch) is invisible to them; summed in time order, they give between 0.5 and 1.0
of the true peak on the book's modules. The individual events are public in the trace that
``prof.export_chrome_trace`` writes: one Chrome-trace instant event named ``[memory]`` per
allocation or free, with its size in ``args["Bytes"]``. They give the same number as the
profiler's private ``kineto_results`` list, which this file read before (a test compares them).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity

from ._checks import check_shape, random_input


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 for a moment: kineto logs "profiler_start/stop" lines with a
    timestamp and process id there, which would make notebook outputs irreproducible."""
    sys.stderr.flush()
    try:
        saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    except OSError:  # no usable fd 2: nothing to silence
        yield
        return
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _allocation_events(prof: torch.profiler.profile) -> list[tuple[float, int]]:
    """(time in microseconds, bytes: + allocated, - freed) of every allocator event, in order.

    Read from the Chrome trace that ``prof.export_chrome_trace`` writes (see the module
    docstring for why not ``prof.events()``), in a temporary folder removed afterwards. A
    profile's trace can be exported once only, so call this once per profile.
    """
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "trace.json"
        prof.export_chrome_trace(str(path))
        trace = json.loads(path.read_text())
    events = [e for e in trace.get("traceEvents", []) if e.get("name") == "[memory]"]
    in_order = sorted(events, key=lambda e: float(e["ts"]))  # stable: ties keep the trace's order
    return [(float(e["ts"]), int(e["args"]["Bytes"])) for e in in_order]


def _peak_allocated(events: Sequence[tuple[float, int]]) -> int:
    """Peak of the running sum of allocation (+) and free (-) events in time order, in bytes."""
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return peak


def peak_memory(module: nn.Module, shape: Sequence[int], dtype: torch.dtype = torch.float32) -> int:
    """Peak bytes allocated on CPU during one training forward + backward, above what existed before.

    What it measures: a deep copy of ``module`` in train mode runs ``y = module(x)`` and then
    ``torch.autograd.grad(y, [x, *parameters], grad_output)``, once untimed as a warm-up and once
    under ``torch.profiler`` with ``profile_memory=True``, which records every allocation and free
    of PyTorch's CPU allocator in order. The result is the peak of their running sum: outputs,
    activations saved for backward, temporaries (also those inside a kernel), and the input
    and parameter gradients, at the moment most of them are alive together. It is activation +
    gradient memory, the part that grows with the input.

    Not included: x, the parameters and buffers, and grad_output (allocated before), and the
    allocator's own overhead (page rounding, fragmentation): this is not an RSS measurement.
    Allocations made by other threads than the caller's may be missed.

    Args:
        module: the module (not modified). shape: shape of x, e.g. (N, C, H, W).
        dtype: element type of x.

    Returns:
        Bytes (divide by 1e6 for MB, by 2^20 for MiB). E.g. ``nn.Sigmoid`` gives 2 * x's bytes:
        its output (saved for backward) and the input gradient.
    """
    dims = check_shape(shape)
    model = copy.deepcopy(module).train()
    x = random_input(dims, dtype, requires_grad=True)
    inputs = [x, *(p for p in model.parameters() if p.requires_grad)]
    with torch.no_grad():
        grad_out = torch.ones_like(model(x))

    def step() -> None:
        torch.autograd.grad(model(x), inputs, grad_out)

    step()  # warm-up: one-time allocations (e.g. oneDNN primitives) are not the module's cost
    profiler = torch.profiler.profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr(), profiler as prof:
        step()
    return _peak_allocated(_allocation_events(prof))
