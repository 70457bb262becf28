"""An honest cost toolkit: parameters, counted FLOPs, memory traffic, latency and peak memory.

Attention modules for CNNs are cheap in parameters and arithmetic and expensive in memory
traffic: they read the whole feature map x in R^{N x C x H x W} to pool it and read and write it
again to gate it. The book therefore puts five numbers side by side (chapter "Cost"):

* ``count_parameters``: trainable parameters (an exact integer).
* ``count_flops``: FLOPs counted by ``torch.utils.flop_counter`` (matmul and convolution only;
  1 multiply-accumulate = 2 FLOPs). Pooling, norms, softmax and gating are invisible to it.
* ``memory_traffic``: the bytes a module must move at minimum, from its structure
  (``MINIMAL_PASSES`` full passes over x).
* ``measure_latency`` and ``floor_latency``: measured time of the module and of one read plus one
  write of x (a copy, the memory-bound floor), with ``torch.utils.benchmark`` and an explicit
  thread count.
* ``peak_memory``: peak bytes allocated during one training forward + backward pass.

``cost_table`` puts them in one table. Papers print costs with binary prefixes and MACs as
often as with decimal prefixes and FLOPs; ``convert_units`` and ``format_published`` convert
a published figure so "published" and "measured" can stand side by side.

Units, everywhere in this module: counts are plain integers; FLOPs are floating-point
operations (a multiply-accumulate, MAC, is 2 FLOPs); bytes are bytes; "MB" is 10^6 bytes and
"MiB" is 2^20 bytes; times are seconds unless a name says ``_ms``.
"""

from __future__ import annotations

import contextlib
import copy
import ctypes
import math
import os
import platform
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.profiler import ProfilerActivity
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

from .registry import ATTENTION_NAMES, make_attention

__all__ = [
    "COLUMNS",
    "DEFAULT_SHAPES",
    "MINIMAL_PASSES",
    "CostRow",
    "CostTable",
    "LatencyResult",
    "convert_units",
    "cost_table",
    "count_flops",
    "count_parameters",
    "floor_latency",
    "format_published",
    "measure_latency",
    "memory_traffic",
    "minimal_passes",
    "peak_memory",
    "retain_freed_memory",
    "trim_heap",
    "use_huge_pages",
]

Shape = tuple[int, ...]

#: ResNet-50's four stage outputs and a MobileNetV2-like feature map, all at batch 8.
DEFAULT_SHAPES: tuple[Shape, ...] = (
    (8, 256, 56, 56),
    (8, 512, 28, 28),
    (8, 1024, 14, 14),
    (8, 2048, 7, 7),
    (8, 96, 28, 28),
)

#: Minimal full passes over x (reads + writes) of one eval-mode forward, per registry name, and
#: why. A pass moves numel(x) * itemsize bytes. "Minimal" means a perfectly fused implementation:
#: the small tensors (pooled vectors, gates, H x W maps, parameters) are ignored because they are
#: smaller than x by a factor H, W, H*W or C/G. An eager PyTorch forward moves more (it writes and
#: re-reads intermediates); this is the floor its design allows.
MINIMAL_PASSES: dict[str, tuple[int, str]] = {
    "se": (3, "1 read to average-pool x; 1 read + 1 write to gate it"),
    "eca": (3, "1 read to average-pool x; 1 read + 1 write to gate it"),
    "cbam_channel": (3, "1 read for the average and max pools together; 1 read + 1 write to gate"),
    "cbam": (
        4,
        "1 read for the channel pools; 1 read to build the max/mean-over-channels map of the "
        "channel-gated x (gating on the fly, not stored); 1 read + 1 write to apply both gates",
    ),
    "sa": (
        3,
        "1 read for each channel's mean and variance (both halves' statistics); 1 read + 1 write to gate",
    ),
    "coord": (3, "1 read for both directional average pools (over W and over H); 1 read + 1 write to gate"),
    "ulsam": (
        3,
        "1 read to build each subspace's H x W map (eval BN is an affine, the 3x3 max-pool a local "
        "stencil, the pointwise conv a sum over the subspace; the softmax acts on the small map); "
        "1 read + 1 write for map * x + x. Training-mode BN needs an extra statistics read (4)",
    ),
}

_MS = 1e3  # seconds -> milliseconds


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------


def _check_shape(shape: Sequence[int], argument: str = "shape") -> Shape:
    """Return ``shape`` as a tuple of positive ints or raise ``ValueError`` naming the argument."""
    try:
        dims = tuple(shape)
    except TypeError:
        raise ValueError(f"{argument} must be a sequence of positive ints; got {shape!r}") from None
    if not dims or any(isinstance(d, bool) or not isinstance(d, int) or d <= 0 for d in dims):
        raise ValueError(f"{argument} must be a non-empty sequence of positive ints; got {shape!r}")
    return dims


def _check_threads(threads: int | None) -> int:
    """Resolve ``threads`` (None: torch's current intra-op thread count) to a positive int."""
    if threads is None:
        return torch.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads <= 0:
        raise ValueError(f"threads must be a positive int or None; got {threads!r}")
    return threads


def _check_min_run_time(min_run_time: float) -> float:
    if not isinstance(min_run_time, (int, float)) or not min_run_time > 0 or math.isinf(min_run_time):
        raise ValueError(f"min_run_time must be a positive, finite number of seconds; got {min_run_time!r}")
    return float(min_run_time)


def _check_mode(mode: str) -> str:
    if mode not in ("eval", "train"):
        raise ValueError(f'mode must be "eval" or "train"; got {mode!r}')
    return mode


def _random_input(shape: Shape, dtype: torch.dtype, requires_grad: bool = False) -> Tensor:
    """A reproducible standard-normal tensor (seed 0) that does not touch the global RNG."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(shape, generator=generator, dtype=dtype).requires_grad_(requires_grad)


# --------------------------------------------------------------------------------------------
# Parameters and FLOPs
# --------------------------------------------------------------------------------------------


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``) of ``module``; buffers are not counted.

    A parameter shared by two submodules is counted once.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_flops(module: nn.Module, x: Tensor | Sequence[int]) -> int:
    """FLOPs of one forward pass ``module(x)`` as counted by ``torch.utils.flop_counter``.

    Args:
        module: any module; it runs in eval mode (its train/eval flags are restored afterwards),
            under ``torch.no_grad``, so BatchNorm statistics are not updated.
        x: the input tensor, or its shape (then a float32 standard-normal tensor is made).

    Returns:
        FLOPs as an int, with 1 multiply-accumulate = 2 FLOPs (so FLOPs = 2 * MACs).

    What it counts: only the matrix-multiply and convolution family (mm, addmm, bmm, conv, ...),
    2 * MACs each; the bias addition of ``nn.Linear``/``nn.Conv2d`` is not counted.
    What it does NOT count (invisible, reported as 0): pooling (average, max, adaptive),
    normalisation (BatchNorm, GroupNorm), activations (ReLU, sigmoid, h-swish), softmax,
    element-wise gating ``a * x`` and additions, reshapes and copies. For these modules that is
    most of the work, e.g. Shuffle Attention counts 0 FLOPs. Use ``memory_traffic`` and
    ``measure_latency`` for their real cost.
    """
    if not isinstance(x, Tensor):
        x = _random_input(_check_shape(x, "x"), torch.float32)
    counter = FlopCounterMode(display=False)
    with _temporary_mode(module, training=False), torch.no_grad(), counter:
        module(x)
    return int(counter.get_total_flops())


class _temporary_mode:
    """Context manager: put ``module`` in train or eval mode, then restore every submodule's flag."""

    def __init__(self, module: nn.Module, *, training: bool) -> None:
        self.module, self.training = module, training
        self.flags: list[tuple[nn.Module, bool]] = []

    def __enter__(self) -> nn.Module:
        self.flags = [(m, m.training) for m in self.module.modules()]
        return self.module.train(self.training)

    def __exit__(self, *exc: object) -> None:
        for m, flag in self.flags:
            m.training = flag


# --------------------------------------------------------------------------------------------
# Memory traffic (from the structure) and its measured floor
# --------------------------------------------------------------------------------------------


_TYPE_TO_NAME: dict[type, str] = {}


def _name_of(module: nn.Module) -> str:
    """The registry name whose default module has ``module``'s class, e.g. ``"se"``."""
    if not _TYPE_TO_NAME:
        for name in ATTENTION_NAMES:
            _TYPE_TO_NAME.setdefault(type(make_attention(name, 256)), name)  # 256 suits every default
        # SA's 1x1-conv variant: its channel-mixing spatial gate is computed per pixel while gating
        _TYPE_TO_NAME.setdefault(type(make_attention("sa", 256, transform="conv")), "sa")
    name = _TYPE_TO_NAME.get(type(module))
    if name is None:
        raise ValueError(
            f"name_or_module: no minimal-pass entry for a {type(module).__name__}; pass one of the "
            f"names {sorted(MINIMAL_PASSES)} or a module made by make_attention"
        )
    return name


def minimal_passes(name_or_module: str | nn.Module) -> int:
    """Minimal full passes over x of one eval-mode forward (see ``MINIMAL_PASSES`` for why)."""
    name = name_or_module if isinstance(name_or_module, str) else _name_of(name_or_module)
    if name not in MINIMAL_PASSES:
        raise ValueError(f"name_or_module={name!r} is not one of {sorted(MINIMAL_PASSES)}")
    return MINIMAL_PASSES[name][0]


def memory_traffic(
    name_or_module: str | nn.Module, shape: Sequence[int], dtype: torch.dtype = torch.float32
) -> int:
    """Bytes one eval-mode forward must read and write at minimum: passes * numel(x) * itemsize.

    Args:
        name_or_module: a registry name (``"se"``, ``"eca"``, ``"cbam"``, ``"cbam_channel"``,
            ``"sa"``, ``"ulsam"``, ``"coord"``) or a module built by ``make_attention``.
        shape: the shape of x, e.g. (N, C, H, W).
        dtype: the element type of x (float32: 4 bytes per element).

    Returns:
        Bytes (divide by 1e6 for MB). A lower bound from the module's structure, not a
        measurement: small tensors (gates, pooled vectors, maps, parameters) are ignored.
    """
    passes = minimal_passes(name_or_module)
    dims = _check_shape(shape)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype must be a torch.dtype; got {dtype!r}")
    return passes * math.prod(dims) * dtype.itemsize


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

    @property
    def median_ms(self) -> float:
        return self.median * _MS

    @property
    def iqr_ms(self) -> float:
        return self.iqr * _MS


def _time_call(
    fn: Callable[[], object], threads: int, min_run_time: float, mode: str, shape: Shape, trim: bool = False
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
    )


# glibc's mallopt parameters (malloc.h) and its largest mmap threshold on 64-bit systems
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MAX_MMAP_THRESHOLD = 32 * 1024 * 1024


def _glibc_function(name: str, *argtypes: type) -> Callable[..., int] | None:
    """glibc's C function ``name`` (int result, arguments of ``argtypes``); None without glibc."""
    if platform.libc_ver()[0] != "glibc":
        return None
    function = getattr(ctypes.CDLL(None), name)
    function.argtypes, function.restype = list(argtypes), ctypes.c_int
    return function


def retain_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed blocks of up to 32 MiB for reuse; True if it agreed.

    By default glibc returns large freed blocks to the kernel. An eager module that allocates
    fresh tensors of tens of MB on every call then pays page faults (and the kernel's zeroing
    of each page) on every call: at (8, 256, 56, 56) that can double its time and makes the
    time depend on the allocation history. jemalloc and tcmalloc keep freed memory by default,
    and PyTorch's CPU performance tuning guide recommends them for this reason. This changes
    the malloc of the whole process, so call it once, before timing; the official code and
    ours benefit alike, and the floor allocates nothing. Returns False without glibc (macOS,
    Windows, musl); nothing changes then.
    """
    mallopt = _glibc_function("mallopt", ctypes.c_int, ctypes.c_int)
    if mallopt is None:
        return False
    # a fixed mmap threshold serves blocks below it from the heap; a high trim threshold keeps
    # the freed heap instead of shrinking it after every call
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1))


def trim_heap() -> bool:
    """Merge glibc's free heap chunks and give the free pages back to the kernel; True if done.

    While a module runs, small allocations can split the freed block its big output came from,
    so the next output lands somewhere else and the set of addresses the module touches grows.
    Which of these states a measurement meets depends on everything that ran before it, and it
    shows as two clearly different speeds of the same module. Trimming before each timing starts
    every measurement from the same heap (its warm-up calls fault the pages back in). Returns
    False without glibc; nothing changes then.
    """
    malloc_trim = _glibc_function("malloc_trim", ctypes.c_size_t)
    if malloc_trim is None:
        return False
    malloc_trim(0)  # returns 1 only if memory was released: both outcomes are a trimmed heap
    return True


def use_huge_pages() -> bool:
    """Ask PyTorch's CPU allocator for transparent huge pages; True if large tensors now get them.

    With ``THP_MEM_ALLOC_ENABLE=1``, PyTorch advises the kernel to back every allocation of
    2 MiB or more with 2 MiB pages instead of 4 KiB ones. A fresh output of tens of MB then
    costs tens of page faults instead of thousands, and streaming over it misses the TLB less.
    On the 2-core machine of the benchmark this made the eval time of Shuffle Attention and
    Coordinate Attention at (8, 256, 56, 56) steady at about 4 x floor, where it had moved
    between 4 and 6 x floor with what ran before. PyTorch reads the variable once, at the first
    tensor it allocates, so call this before creating any tensor (the benchmark's command line
    does). Returns False when that moment has passed, on systems without transparent huge pages,
    or where ``/sys/kernel/mm/transparent_hugepage/enabled`` is ``never``.
    """
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"
    mode = _transparent_huge_pages_mode()
    if mode in ("", "never"):
        return False
    probe = torch.empty(1 << 20)  # 4 MiB: large enough for PyTorch to advise huge pages
    return mode == "always" or _advised_huge_pages(probe.data_ptr())


def _transparent_huge_pages_mode() -> str:
    """The kernel's THP mode: "always", "madvise" or "never"; "" where there is none (not Linux)."""
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            chosen = re.search(r"\[(\w+)\]", f.read())
    except OSError:
        return ""
    return chosen.group(1) if chosen else ""


def _advised_huge_pages(address: int) -> bool:
    """Whether the memory mapping that holds ``address`` was advised to use huge pages (Linux).

    ``/proc/self/smaps`` lists each mapping as a "start-end ..." line followed by its fields;
    its ``VmFlags`` hold ``hg`` after ``madvise(MADV_HUGEPAGE)``.
    """
    try:
        with open("/proc/self/smaps") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    holds = False
    for line in lines:
        mapping = re.match(r"([0-9a-f]+)-([0-9a-f]+) ", line)
        if mapping:
            holds = int(mapping.group(1), 16) <= address < int(mapping.group(2), 16)
        elif holds and line.startswith("VmFlags:"):
            return "hg" in line.split()[1:]
    return False


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
    dims = _check_shape(shape)
    threads = _check_threads(threads)
    min_run_time = _check_min_run_time(min_run_time)
    x = _random_input(dims, dtype)
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

    Returns:
        A ``LatencyResult`` in seconds, with the median, IQR, number of runs, threads and mode.

    Caveat (Linux/glibc): blocks of tens of MB are returned to the OS when freed, so a module
    that keeps several such temporaries alive pays page faults on every call, and its time at
    large shapes such as (8, 256, 56, 56) depends on the allocator's state (a wide IQR is the
    sign). That is a real cost of eager PyTorch on CPU, not of the module's design.
    """
    mode = _check_mode(mode)
    dims = _check_shape(shape)
    threads = _check_threads(threads)
    min_run_time = _check_min_run_time(min_run_time)
    model = copy.deepcopy(module).train(mode == "train")
    if mode == "eval":
        x = _random_input(dims, dtype)

        def call() -> object:
            with torch.inference_mode():
                return model(x)

    else:
        x = _random_input(dims, dtype, requires_grad=True)
        inputs = [x, *(p for p in model.parameters() if p.requires_grad)]
        with torch.no_grad():
            grad_out = torch.ones_like(model(x))

        def call() -> object:
            return torch.autograd.grad(model(x), inputs, grad_out)

    return _time_call(call, threads, min_run_time, mode, dims, trim)


# --------------------------------------------------------------------------------------------
# Peak memory of forward + backward
# --------------------------------------------------------------------------------------------


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


def _peak_allocated(prof: torch.profiler.profile) -> int:
    """Peak of the running sum of the profiler's allocation (+) and free (-) events, in bytes."""
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
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
    dims = _check_shape(shape)
    model = copy.deepcopy(module).train()
    x = _random_input(dims, dtype, requires_grad=True)
    inputs = [x, *(p for p in model.parameters() if p.requires_grad)]
    with torch.no_grad():
        grad_out = torch.ones_like(model(x))

    def step() -> None:
        torch.autograd.grad(model(x), inputs, grad_out)

    step()  # warm-up: one-time allocations (e.g. oneDNN primitives) are not the module's cost
    profiler = torch.profiler.profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    with _quiet_stderr(), profiler as prof:
        step()
    return _peak_allocated(prof)


# --------------------------------------------------------------------------------------------
# Units: FLOPs vs MACs, decimal vs binary prefixes
# --------------------------------------------------------------------------------------------

_PREFIXES: dict[str, float] = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BINARY_PREFIXES: dict[str, float] = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
_QUANTITIES = ("FLOPs", "MACs", "params", "B", "")
_FLOPS_PER: dict[str, float] = {"FLOPs": 1.0, "MACs": 2.0}  # 1 multiply-accumulate = 2 FLOPs
_UNIT = re.compile(r"^(|K|M|G|T|Ki|Mi|Gi|Ti)(FLOPs|MACs|params|B|)$")


def _parse_unit(unit: str, argument: str) -> tuple[float, str]:
    """``"GiFLOPs"`` -> (2**30, "FLOPs"); spaces are ignored ("Mi params")."""
    match = _UNIT.match(unit.replace(" ", "")) if isinstance(unit, str) else None
    if match is None:
        raise ValueError(
            f"{argument}={unit!r} is not a unit: write a prefix (K, M, G, T decimal; Ki, Mi, Gi, Ti "
            f"binary) followed by one of {[q for q in _QUANTITIES if q]} or nothing, e.g. 'GFLOPs', 'MiB'"
        )
    prefix, quantity = match.groups()
    scale = _BINARY_PREFIXES[prefix] if prefix.endswith("i") else _PREFIXES[prefix]
    return scale, quantity


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between units with decimal or binary prefixes, and FLOPs <-> MACs.

    Units are a prefix (K, M, G, T = 10^3..10^12; Ki, Mi, Gi, Ti = 2^10..2^40) followed by
    FLOPs, MACs, params, B (bytes) or nothing. FLOPs and MACs convert with 1 MAC = 2 FLOPs;
    other quantities only into themselves. Examples::

        convert_units(24.37, "Mi params", "params")  # 24.37 * 2**20 = 25_553_797.12
        convert_units(3.86, "GiFLOPs", "GFLOPs")      # 3.86 * 2**30 / 1e9 = 4.1446...
        convert_units(4.1, "GMACs", "GFLOPs")         # 8.2
    """
    from_scale, from_quantity = _parse_unit(from_unit, "from_unit")
    to_scale, to_quantity = _parse_unit(to_unit, "to_unit")
    factor = 1.0
    if from_quantity != to_quantity:
        if from_quantity not in _FLOPS_PER or to_quantity not in _FLOPS_PER:
            raise ValueError(f"to_unit={to_unit!r} measures another quantity than from_unit={from_unit!r}")
        factor = _FLOPS_PER[from_quantity] / _FLOPS_PER[to_quantity]
    return value * from_scale * factor / to_scale


def _show(number: str, prefix: str, quantity: str) -> str:
    """'25.55', 'M', 'params' -> '25.55M params'; '4.145', 'G', 'FLOPs' -> '4.145 GFLOPs'."""
    return f"{number}{prefix} params" if quantity == "params" else f"{number} {prefix}{quantity}".rstrip()


def format_published(value: float, unit: str, *, binary: bool = False, digits: int = 4) -> str:
    """A paper's figure, read with the prefix the paper meant and restated with decimal prefixes.

    Args:
        value, unit: as printed, e.g. ``3.86, "GFLOPs"`` or ``24.37, "M params"`` (decimal-looking
            prefix letters K, M, G, T; the quantity FLOPs, MACs, params, B or nothing).
        binary: the paper's prefix is binary (its "G" meant 2^30), as in ECA-Net's tables.
        digits: significant digits of the restated numbers.

    Returns a line for the book, e.g. ``format_published(3.86, "GFLOPs", binary=True)`` ->
    ``'3.86 GFLOPs (binary prefix, G = 2^30) = 4.145 GFLOPs = 2.072 GMACs (decimal prefixes)'``
    and ``format_published(24.37, "M params", binary=True)`` ->
    ``'24.37 M params (binary prefix, M = 2^20) = 25.55M params (decimal prefixes)'``.
    """
    _, quantity = _parse_unit(unit, "unit")
    compact = unit.replace(" ", "")
    prefix = compact[: len(compact) - len(quantity)]
    if prefix.endswith("i"):
        raise ValueError(f"unit={unit!r}: write the prefix as printed (e.g. 'G') and pass binary=True")
    binary = binary and prefix != ""
    read_as = prefix + ("i" if binary else "") + quantity
    shown = f"{value:g} {unit}"
    if binary:
        shown += f" (binary prefix, {prefix} = 2^{round(math.log2(_BINARY_PREFIXES[prefix + 'i']))})"
    quantities = [quantity] + [q for q in _FLOPS_PER if quantity in _FLOPS_PER and q != quantity]
    restated = [
        _show(f"{convert_units(value, read_as, prefix + q):.{digits}g}", prefix, q) for q in quantities
    ]
    if not binary:
        restated = restated[1:]  # the figure itself is already decimal
    return " = ".join([shown, *restated]) + " (decimal prefixes)"


# --------------------------------------------------------------------------------------------
# The cost table
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CostRow:
    """One module at one input shape. Counts are ints, bytes are bytes, times are seconds.

    ``params`` (module not built), ``flops`` and ``latency`` (module not built or not run) are
    None when that failed at this shape; ``note`` then says why. ``traffic`` comes from the
    structure and is always there. ``note`` also records any non-default option
    (e.g. SA's groups fallback).
    """

    name: str
    shape: Shape
    params: int | None
    flops: int | None
    passes: int
    traffic: int
    latency: LatencyResult | None
    floor: LatencyResult
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def floor_ratio(self) -> float | None:
        """Latency / floor latency (dimensionless). A perfectly fused p-pass module scores ~p/2."""
        return None if self.latency is None else self.latency.median / self.floor.median


#: Column headers of ``CostTable.to_markdown``, units in brackets.
COLUMNS: tuple[str, ...] = (
    "module",
    "shape (N, C, H, W)",
    "params",
    "counted FLOPs",
    "min passes",
    "traffic [MB]",
    "latency median [ms]",
    "latency IQR [ms]",
    "runs",
    "floor [ms]",
    "latency / floor",
    "note",
)


@dataclass(frozen=True)
class CostTable:
    """Rows of ``cost_table`` and how they were measured; iterate over it like a list of rows.

    ``to_markdown()`` gives a pandas-free Markdown table (units in the headers, MB = 10^6
    bytes, FLOPs = 2 * MACs as counted by ``count_flops``); ``caption()`` the settings.
    """

    rows: tuple[CostRow, ...]
    mode: str
    threads: int
    min_run_time: float
    dtype: torch.dtype = torch.float32

    def __iter__(self) -> Iterator[CostRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> CostRow:
        return self.rows[index]

    def caption(self) -> str:
        """One sentence with the settings every number in the table depends on."""
        what = "inference forward" if self.mode == "eval" else "forward + backward"
        return (
            f"{what} ({self.mode} mode), {str(self.dtype).replace('torch.', '')}, {self.threads} thread(s), "
            f"torch {torch.__version__}, {platform.machine() or 'unknown CPU'}; latency: median and IQR of "
            f"Timer.blocked_autorange(min_run_time={self.min_run_time:g} s); floor: one copy of x; "
            f"FLOPs: torch.utils.flop_counter (matmul/conv only, 2 per MAC); traffic: minimal passes of an "
            f"eval forward x bytes of x (MB = 10^6 bytes)"
        )

    def to_markdown(self) -> str:
        """The table in GitHub Markdown: a header line, a separator line, one line per row."""
        align = ["---"] * 2 + ["---:"] * (len(COLUMNS) - 3) + ["---"]  # numbers right-aligned
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(_cells(row)) + " |" for row in self.rows]
        return "\n".join(lines)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ms(seconds: float) -> str:
    """Milliseconds with 3 significant digits, without exponents: 0.388, 16.9, 1,230."""
    ms = seconds * _MS
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}"


def _cells(row: CostRow) -> list[str]:
    lat, ratio = row.latency, row.floor_ratio
    return [
        row.name,
        "(" + ", ".join(map(str, row.shape)) + ")",
        _count(row.params),
        _count(row.flops),
        str(row.passes),
        f"{row.traffic / 1e6:.1f}",
        "-" if lat is None else _ms(lat.median),
        "-" if lat is None else _ms(lat.iqr),
        "-" if lat is None else str(lat.runs),
        _ms(row.floor.median),
        "-" if ratio is None else f"{ratio:.2f}",
        row.note.replace("|", "/"),
    ]


def _fallback_options(name: str, channels: int) -> tuple[dict[str, Any], str] | None:
    """Options for a default that is invalid at ``channels``, and the note saying so; None if none.

    SA needs C % (2G) == 0 and defaults to G = 64: use the largest G < 64 that divides C / 2.
    """
    if name == "sa" and channels % 2 == 0:
        groups = max(g for g in range(1, 65) if (channels // 2) % g == 0)
        return {"groups": groups}, f"groups={groups}: the default 64 needs C % 128 == 0"
    return None


def _build(name: str, channels: int) -> tuple[nn.Module | None, dict[str, Any], str]:
    """The registry default for ``name`` at ``channels``, or its documented fallback, or None + why."""
    try:
        return make_attention(name, channels), {}, ""
    except ValueError as error:
        fallback = _fallback_options(name, channels)
        if fallback is None:
            return None, {}, f"not built: {error}"
        options, note = fallback
        return make_attention(name, channels, **options), options, note


def cost_table(
    names: Sequence[str] = ATTENTION_NAMES,
    shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES,
    *,
    mode: str = "eval",
    threads: int | None = None,
    min_run_time: float = 0.2,
    dtype: torch.dtype = torch.float32,
) -> CostTable:
    """Parameters, counted FLOPs, minimal traffic, latency and its floor for each module and shape.

    Args:
        names: registry names (default: all of ``ATTENTION_NAMES``), each built with the registry
            defaults; where a default is invalid at a shape the documented fallback is used and
            the row's note says so (SA at C = 96: groups 48), else the row is marked "not built".
        shapes: input shapes (N, C, H, W); default ``DEFAULT_SHAPES`` (ResNet-50 stages and a
            MobileNetV2-like map, batch 8).
        mode: latency of ``"eval"`` (inference forward) or ``"train"`` (forward + backward).
            Parameters, FLOPs and traffic are those of an eval forward in both modes.
        threads: torch intra-op threads for every timing (None: ``torch.get_num_threads()``).
        min_run_time: seconds of timed calls per module and shape and per floor (0.2: the
            default table takes ~12 s on an idle 2-core CPU; slow rows still get >= 1 run).
        dtype: element type of x.
    """
    mode = _check_mode(mode)
    threads = _check_threads(threads)
    min_run_time = _check_min_run_time(min_run_time)
    names = tuple(names)
    unknown = [n for n in names if n not in MINIMAL_PASSES]
    if unknown:
        raise ValueError(f"names contains unknown module names {unknown}; known: {sorted(MINIMAL_PASSES)}")
    checked = [_check_shape(s, "shapes") for s in shapes]
    if any(len(shape) != 4 for shape in checked):
        raise ValueError(f"shapes must hold (N, C, H, W) shapes; got {checked}")
    rows = []
    for shape in checked:
        floor = floor_latency(shape, dtype, threads=threads, min_run_time=min_run_time)
        for name in names:
            rows.append(_row(name, shape, floor, mode, threads, min_run_time, dtype))
    return CostTable(tuple(rows), mode, threads, min_run_time, dtype)


def _row(
    name: str,
    shape: Shape,
    floor: LatencyResult,
    mode: str,
    threads: int,
    min_run_time: float,
    dtype: torch.dtype,
) -> CostRow:
    """Measure one module at one shape; a ValueError from the module becomes the row's note."""
    passes, traffic = minimal_passes(name), memory_traffic(name, shape, dtype)
    module, options, note = _build(name, shape[1])
    if module is None:
        return CostRow(name, shape, None, None, passes, traffic, None, floor, options, note)
    params = count_parameters(module)
    try:
        latency = measure_latency(
            module, shape, mode, threads=threads, min_run_time=min_run_time, dtype=dtype
        )
        flops = count_flops(module, _random_input(shape, dtype))
    except ValueError as error:  # e.g. training-mode BatchNorm on one value per channel
        return CostRow(name, shape, params, None, passes, traffic, None, floor, options, str(error))
    return CostRow(name, shape, params, flops, passes, traffic, latency, floor, options, note)
