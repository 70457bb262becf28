"""Measured latency: one module's call, and the memory-bound floor (one copy of x).

Both use ``torch.utils.benchmark.Timer.blocked_autorange`` with an explicit thread count and
report the median and interquartile range of the timed blocks. The floor is one read plus one
write of x; a perfectly fused module with p minimal passes takes about p/2 floors (chapter 07,
eq. ``eq-cost-floor``).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils import benchmark

from ._checks import MS_PER_S, Shape, check_min_run_time, check_mode, check_shape, check_threads, random_input
from .allocator import trim_heap


@dataclass(frozen=True)
class LatencyResult:
    """One latency measurement. Times in seconds (``unit``); ``*_ms`` properties in milliseconds.

    Attributes:
        median: median time of one call over ``runs`` timed blocks.
        iqr: interquartile range of those block times (the spread; 0 when there is one block).
        runs: number of timed blocks; each block ran the call ``number_per_run`` times.
        number_per_run: calls per block (the block time is divided by it).
        threads: torch intra-op threads used while timing.
        mode: "eval" (inference forward), "train" (forward + backward) or "copy" (the floor).
        shape: shape of the input x.
        times: the time of one call in each timed block (``runs`` values), for merging results.
        compile_s: for a compiled module, seconds of its first call, which traces and compiles
            it (``torch.compile``); None for an eager one. Not part of ``median``.
    """

    median: float
    iqr: float
    runs: int
    number_per_run: int
    threads: int
    mode: str
    shape: Shape
    unit: str = "s"
    times: tuple[float, ...] = ()
    compile_s: float | None = None

    @property
    def median_ms(self) -> float:
        return self.median * MS_PER_S

    @property
    def iqr_ms(self) -> float:
        return self.iqr * MS_PER_S


def _time_call(
    fn: Callable[[], object],
    threads: int,
    min_run_time: float,
    mode: str,
    shape: Shape,
    trim: bool = False,
    compile_s: float | None = None,
) -> LatencyResult:
    """Time ``fn()`` with ``Timer.blocked_autorange`` at ``threads`` threads.

    blocked_autorange first runs ``fn`` untimed to choose the block size (calls per timed block,
    so that timer overhead is < 0.01 %); that run is also the warm-up (first-call allocations).
    ``trim``: trim the heap first (``trim_heap``), so every measurement starts from the same
    allocator state; only when the caller asks, since it acts on the whole process's heap.
    """
    if trim:
        trim_heap()
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=threads)
    m = timer.blocked_autorange(min_run_time=min_run_time)
    return LatencyResult(
        median=float(m.median),
        iqr=float(m.iqr),
        runs=len(m.times),
        number_per_run=int(m.number_per_run),
        threads=threads,
        mode=mode,
        shape=shape,
        times=tuple(float(t) for t in m.times),
        compile_s=compile_s,
    )


def floor_latency(
    shape: Sequence[int],
    dtype: torch.dtype = torch.float32,
    *,
    threads: int | None = None,
    min_run_time: float = 0.2,
    trim: bool = False,
) -> LatencyResult:
    """Measured time of one read + one write of x: ``out.copy_(x)`` into a preallocated tensor.

    This is the memory-bound floor of 2 passes on this machine (``mode="copy"``): an ideal, fused
    module with p minimal passes would take about p/2 times it. An eager module also pays for
    allocating (and, for large tensors, page-faulting) its fresh outputs, which the floor does not.

    Args:
        shape: shape of x. dtype: its element type.
        threads: torch intra-op threads while timing (None: ``torch.get_num_threads()`` now);
            stored in the result.
        min_run_time: seconds of timed calls to collect, at least one block.
        trim: call ``trim_heap()`` before timing (glibc only; off unless asked).
    """
    dims = check_shape(shape)
    threads = check_threads(threads)
    min_run_time = check_min_run_time(min_run_time)
    x = random_input(dims, dtype)
    out = torch.empty_like(x)
    out.copy_(x)  # touch every page once, so the timed copies pay no page faults
    return _time_call(lambda: out.copy_(x), threads, min_run_time, "copy", dims, trim)


def measure_latency(
    module: nn.Module,
    shape: Sequence[int],
    mode: str = "eval",
    *,
    threads: int | None = None,
    min_run_time: float = 0.2,
    dtype: torch.dtype = torch.float32,
    trim: bool = False,
    compiled: bool = False,
) -> LatencyResult:
    """Measured time of one call of ``module`` on a standard-normal x of ``shape``.

    Args:
        module: the module to time; a deep copy is timed, so the original's mode, BatchNorm
            statistics and gradients are untouched.
        shape: shape of x, e.g. (N, C, H, W).
        mode: ``"eval"``: ``module.eval()`` and a forward under ``torch.inference_mode``.
            ``"train"``: ``module.train()``, x requires grad, forward + backward: the gradients
            of the output (with a fixed, preallocated grad_output) w.r.t. x and every trainable
            parameter, via ``torch.autograd.grad`` (nothing accumulates between calls).
        threads: torch intra-op threads while timing (None: ``torch.get_num_threads()`` now);
            stored in the result.
        min_run_time: seconds of timed calls to collect (``Timer.blocked_autorange``), at least
            one block.
        dtype: element type of x (the module is not converted).
        trim: call ``trim_heap()`` before timing, so the measurement does not depend on what
            ran before (glibc only; off unless asked, since it acts on the whole process's heap).
        compiled: time ``torch.compile(copy, fullgraph=True, dynamic=False)`` instead of the
            eager copy: the first call compiles (its seconds go to ``compile_s``, not to the
            median), and the timed calls run under ``torch.compiler.set_stance("fail_on_recompile")``,
            so a guard that fails raises instead of silently timing a recompiled or eager call.
            Compiled code is cached per class and shape; ``torch.compiler.reset()`` before the
            call makes ``compile_s`` a cold compile.

    Returns:
        A ``LatencyResult`` in seconds, with the median, IQR, number of runs, threads and mode.

    Caveat (Linux/glibc): blocks of tens of MB are returned to the OS when freed, so a module
    that keeps several such temporaries alive pays page faults on every call, and its time at
    large shapes such as (8, 256, 56, 56) depends on the allocator's state (a wide IQR is the
    sign). That is a real cost of eager PyTorch on CPU, not of the module's design; time inside
    ``allocator_settings(retain_freed=True, huge_pages=True)`` to remove most of it.
    """
    mode = check_mode(mode)
    dims = check_shape(shape)
    threads = check_threads(threads)
    min_run_time = check_min_run_time(min_run_time)
    eager = copy.deepcopy(module).train(mode == "train")
    model = torch.compile(eager, fullgraph=True, dynamic=False) if compiled else eager
    if mode == "eval":
        x = random_input(dims, dtype)

        def call() -> object:
            with torch.inference_mode():
                return model(x)

    else:
        x = random_input(dims, dtype, requires_grad=True)
        inputs = [x, *(p for p in model.parameters() if p.requires_grad)]
        with torch.no_grad():
            grad_out = torch.ones_like(eager(x))  # eager: a no-grad call would compile a second graph

        def call() -> object:
            return torch.autograd.grad(model(x), inputs, grad_out)

    if not compiled:
        return _time_call(call, threads, min_run_time, mode, dims, trim)
    with _threads(threads):
        start = time.perf_counter()
        call()  # traces and compiles forward (and, in train mode, backward)
        compile_s = time.perf_counter() - start
    with torch.compiler.set_stance("fail_on_recompile"):
        return _time_call(call, threads, min_run_time, mode, dims, trim, compile_s)


@contextmanager
def _threads(threads: int) -> Iterator[None]:
    """Run with ``threads`` intra-op threads, as the timed calls will, and restore the count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
