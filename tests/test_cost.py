"""Tests of the cost toolkit on modules whose costs are known exactly from their shapes.

Timing tests use tiny shapes, one thread and short ``min_run_time`` so the file runs in seconds
and does not depend on the machine's speed; only one test compares two timings, with a wide margin.
"""

from __future__ import annotations

import dataclasses
import math
import re
import sys

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.cost import (
    retain_freed_memory,
    COLUMNS,
    DEFAULT_SHAPES,
    MINIMAL_PASSES,
    CostTable,
    LatencyResult,
    convert_units,
    cost_table,
    count_flops,
    count_parameters,
    floor_latency,
    format_published,
    measure_latency,
    memory_traffic,
    minimal_passes,
    peak_memory,
    _transparent_huge_pages_mode,
    trim_heap,
    use_huge_pages,
)
from lightattn_ref import eca_kernel_size
from lightattn_ref.registry import ATTENTION_NAMES, make_attention

FAST = {"threads": 1, "min_run_time": 0.01}


# ----------------------------------------------------------------------------- parameters, FLOPs


def test_count_parameters_is_exact_and_skips_frozen_parameters() -> None:
    conv = nn.Conv2d(3, 4, kernel_size=3)
    assert count_parameters(conv) == 4 * 3 * 3 * 3 + 4
    linear = nn.Linear(7, 5)
    assert count_parameters(linear) == 7 * 5 + 5
    linear.bias.requires_grad_(False)
    assert count_parameters(linear) == 7 * 5
    assert count_parameters(nn.BatchNorm2d(6)) == 12  # weight and bias; running stats are buffers


def test_count_flops_of_linear_and_conv_is_two_per_mac() -> None:
    n, d_in, d_out = 3, 7, 5
    assert count_flops(nn.Linear(d_in, d_out), torch.randn(n, d_in)) == 2 * n * d_in * d_out
    # Conv2d(3 -> 4, 3x3, padding 1) on (2, 3, 8, 8): one MAC per output element per weight of its filter
    macs = (2 * 4 * 8 * 8) * (3 * 3 * 3)
    assert count_flops(nn.Conv2d(3, 4, 3, padding=1), torch.randn(2, 3, 8, 8)) == 2 * macs
    # grouped convolution: each output sees C_in / groups input channels; a shape works as input
    macs = (2 * 8 * 6 * 6) * ((4 // 2) * 3 * 3)
    assert count_flops(nn.Conv2d(4, 8, 3, padding=1, groups=2), (2, 4, 6, 6)) == 2 * macs


class _PoolGate(nn.Module):
    """x * sigmoid(GAP(x)) followed by a max-pool, softmax and GroupNorm: real work, no matmul."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(2, 4)

    def forward(self, x: Tensor) -> Tensor:
        y = x * torch.sigmoid(nn.functional.adaptive_avg_pool2d(x, 1))
        y = nn.functional.max_pool2d(y, 3, 1, 1)
        return self.norm(torch.softmax(y.flatten(2), -1).view_as(y))


def test_count_flops_cannot_see_pooling_norms_softmax_or_gating() -> None:
    x = torch.randn(2, 4, 8, 8)
    assert count_flops(_PoolGate(), x) == 0
    assert count_flops(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Sigmoid()), x) == 0
    assert count_flops(make_attention("sa", 128), torch.randn(1, 128, 4, 4)) == 0  # documented: SA shows 0
    # ... while ECA's 1-D convolution over the C pooled values is counted: 2 * N * C * k
    k = eca_kernel_size(128)
    assert count_flops(make_attention("eca", 128), torch.randn(2, 128, 4, 4)) == 2 * 2 * 128 * k


def test_count_flops_restores_modes_and_does_not_update_batchnorm() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)).train()
    model[0].eval()  # a mixed state must come back exactly
    before = model[1].running_mean.clone()
    count_flops(model, torch.randn(4, 2, 3, 3) + 5.0)
    assert model.training and not model[0].training and model[1].training
    assert torch.equal(model[1].running_mean, before)


# ----------------------------------------------------------------------------- memory traffic


def test_memory_traffic_is_passes_times_bytes_of_x() -> None:
    shape = (2, 16, 4, 4)
    numel = math.prod(shape)
    assert memory_traffic("se", shape) == 3 * numel * 4
    assert memory_traffic("cbam", shape) == 4 * numel * 4
    assert memory_traffic("se", shape, torch.float16) == 3 * numel * 2
    assert memory_traffic("ulsam", shape, torch.float64) == 3 * numel * 8


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_memory_traffic_is_positive_and_linear_in_batch(name: str) -> None:
    one = memory_traffic(name, (1, 128, 8, 8))
    assert one > 0
    assert memory_traffic(name, (8, 128, 8, 8)) == 8 * one
    assert memory_traffic(make_attention(name, 128), (1, 128, 8, 8)) == one  # a module reads the same table


def test_every_registry_name_has_a_reasoned_pass_count() -> None:
    assert set(MINIMAL_PASSES) == set(ATTENTION_NAMES)
    for name, (passes, reason) in MINIMAL_PASSES.items():
        assert passes >= 3, name  # at least: read to pool, read + write to gate
        assert "read" in reason and "write" in reason, name
    assert minimal_passes("cbam") == 4 and minimal_passes("coord") == 3


def test_memory_traffic_rejects_unknown_names_modules_shapes_and_dtypes() -> None:
    with pytest.raises(ValueError, match="name_or_module"):
        memory_traffic("resnet", (1, 8, 2, 2))
    with pytest.raises(ValueError, match="name_or_module"):
        memory_traffic(nn.Conv2d(8, 8, 1), (1, 8, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        memory_traffic("se", (1, 0, 2, 2))
    with pytest.raises(ValueError, match="dtype"):
        memory_traffic("se", (1, 8, 2, 2), dtype="float32")  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- latency


def test_floor_latency_is_a_positive_copy_measurement() -> None:
    floor = floor_latency((1, 4, 8, 8), **FAST)
    assert isinstance(floor, LatencyResult)
    assert floor.mode == "copy" and floor.threads == 1 and floor.shape == (1, 4, 8, 8) and floor.unit == "s"
    assert floor.median > 0 and floor.iqr >= 0 and floor.runs >= 1 and floor.number_per_run >= 1
    assert floor.median_ms == pytest.approx(floor.median * 1e3)


def test_floor_latency_grows_with_the_tensor() -> None:
    # 64x the bytes (64 KiB -> 4 MiB) must take well over 4x the time on any machine
    small = floor_latency((1, 16, 32, 32), threads=1, min_run_time=0.05)
    large = floor_latency((64, 16, 32, 32), threads=1, min_run_time=0.05)
    assert large.median > 4 * small.median


class _Probe(nn.Module):
    """Records, per call, its mode and whether inference mode was on; counts backward calls."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))
        self.calls: list[tuple[bool, bool]] = []
        self.backward_calls = [0]

    def forward(self, x: Tensor) -> Tensor:
        self.calls.append((self.training, torch.is_inference_mode_enabled()))
        y = x * self.weight
        if y.requires_grad:
            counter = self.backward_calls
            y.register_hook(lambda g: counter.__setitem__(0, counter[0] + 1))
        return y


def test_measure_latency_eval_runs_forward_only_in_inference_mode() -> None:
    probe = _Probe().train()
    result = measure_latency(probe, (1, 2, 4, 4), "eval", **FAST)
    assert result.mode == "eval" and result.threads == 1 and result.shape == (1, 2, 4, 4)
    assert result.median > 0 and result.iqr >= 0 and result.runs >= 1
    assert probe.training and probe.calls == []  # a deep copy was timed, the original untouched


def test_measure_latency_modes_reach_the_module() -> None:
    # the timed copy shares the probe's lists (deepcopy memo keeps them distinct, so peek via a subclass)
    seen: list[tuple[bool, bool]] = []
    backward = [0]

    class Shared(_Probe):
        def __deepcopy__(self, memo: dict) -> "Shared":
            twin = Shared()
            twin.calls, twin.backward_calls = seen, backward
            return twin

    measure_latency(Shared(), (1, 2, 4, 4), "eval", **FAST)
    assert seen and all(call == (False, True) for call in seen) and backward[0] == 0
    seen.clear()
    train = measure_latency(Shared(), (1, 2, 4, 4), "train", **FAST)
    assert train.mode == "train"
    assert seen and all(call == (True, False) for call in seen)
    assert backward[0] >= train.runs  # every timed call ran backward


def test_measure_latency_keeps_the_thread_count_and_the_module_state() -> None:
    cbam = make_attention("cbam", 32).train()
    before = {k: v.clone() for k, v in cbam.state_dict().items()}
    result = measure_latency(cbam, (2, 32, 4, 4), "train", threads=2, min_run_time=0.01)
    assert result.threads == 2
    assert cbam.training and all(p.grad is None for p in cbam.parameters())
    assert all(torch.equal(before[k], v) for k, v in cbam.state_dict().items())  # BN stats untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.threads = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({"mode": "fast"}, "mode"), ({"threads": 0}, "threads"), ({"min_run_time": 0}, "min_run_time")],
)
def test_measure_latency_rejects_bad_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        measure_latency(nn.Identity(), (1, 2, 2, 2), **kwargs)


def test_floor_latency_rejects_bad_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        floor_latency((2, -1), **FAST)


# ----------------------------------------------------------------------------- peak memory


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


# ----------------------------------------------------------------------------- units


def test_convert_units_binary_prefixes_and_macs_exactly() -> None:
    # ECA-Net's ResNet-50: "24.37M params, 3.86 GFLOPs", both with binary prefixes (ECANet issue #35)
    assert convert_units(24.37, "Mi params", "params") == 24.37 * 2**20
    assert convert_units(24.37, "Miparams", "Mparams") == 24.37 * 2**20 / 1e6
    assert round(convert_units(24.37, "Mi params", "M params"), 2) == 25.55
    assert convert_units(3.86, "GiFLOPs", "FLOPs") == 3.86 * 2**30
    assert round(convert_units(3.86, "GiFLOPs", "GFLOPs"), 2) == 4.14
    assert convert_units(4.1, "GMACs", "GFLOPs") == 8.2  # 1 MAC = 2 FLOPs
    assert convert_units(8.2, "GFLOPs", "MMACs") == pytest.approx(4100.0, rel=1e-15)
    assert convert_units(1, "MiB", "B") == 1_048_576 and convert_units(1e6, "B", "MB") == 1.0


def test_convert_units_rejects_unknown_and_mismatched_units() -> None:
    with pytest.raises(ValueError, match="from_unit"):
        convert_units(1.0, "GFLOPS/s", "FLOPs")
    with pytest.raises(ValueError, match="to_unit"):
        convert_units(1.0, "Mparams", "GFLOPs")
    with pytest.raises(ValueError, match="to_unit"):
        convert_units(1.0, "MB", "Xparams")


def test_format_published_restates_a_paper_figure() -> None:
    assert format_published(3.86, "GFLOPs", binary=True) == (
        "3.86 GFLOPs (binary prefix, G = 2^30) = 4.145 GFLOPs = 2.072 GMACs (decimal prefixes)"
    )
    assert format_published(24.37, "M params", binary=True) == (
        "24.37 M params (binary prefix, M = 2^20) = 25.55M params (decimal prefixes)"
    )
    assert format_published(4.1, "GMACs") == "4.1 GMACs = 8.2 GFLOPs (decimal prefixes)"
    with pytest.raises(ValueError, match="unit"):
        format_published(3.86, "GiFLOPs", binary=True)


# ----------------------------------------------------------------------------- the table


def test_default_shapes_are_resnet50_stages_and_a_mobilenet_map() -> None:
    assert DEFAULT_SHAPES[:4] == ((8, 256, 56, 56), (8, 512, 28, 28), (8, 1024, 14, 14), (8, 2048, 7, 7))
    assert DEFAULT_SHAPES[4] == (8, 96, 28, 28)


def test_cost_table_on_tiny_shapes_covers_every_module() -> None:
    shapes = [(2, 128, 6, 6), (2, 96, 4, 4)]
    table = cost_table(shapes=shapes, **FAST)
    assert isinstance(table, CostTable) and table.threads == 1 and table.mode == "eval"
    assert len(table) == len(ATTENTION_NAMES) * len(shapes)
    assert [(row.name, row.shape) for row in table] == [(n, s) for s in shapes for n in ATTENTION_NAMES]
    for row in table:
        module = make_attention(row.name, row.shape[1], **row.options)
        assert row.params == count_parameters(module)
        assert row.traffic == memory_traffic(row.name, row.shape)
        assert row.latency is not None and row.latency.threads == 1 and row.latency.median > 0
        assert row.floor.mode == "copy" and row.floor_ratio == row.latency.median / row.floor.median
    sa_96 = next(row for row in table if row.name == "sa" and row.shape[1] == 96)
    assert sa_96.options == {"groups": 48} and "groups=48" in sa_96.note and sa_96.flops == 0
    sa_128 = next(row for row in table if row.name == "sa" and row.shape[1] == 128)
    assert sa_128.options == {} and sa_128.params == 3 * 128 // 64

    markdown = table.to_markdown().splitlines()
    assert markdown[0] == "| " + " | ".join(COLUMNS) + " |"
    assert "[MB]" in markdown[0] and "[ms]" in markdown[0] and "FLOPs" in markdown[0]
    assert len(markdown) == 2 + len(table)
    for line, row in zip(markdown[2:], table):
        assert line.startswith(f"| {row.name} | ({', '.join(map(str, row.shape))}) |")
        assert line.count("|") == len(COLUMNS) + 1
    assert "1 thread" in table.caption()


def test_cost_table_marks_rows_it_cannot_build_or_run() -> None:
    # ULSAM's 4 subspaces cannot split 6 channels; training-mode BN cannot run on N*H*W = 1
    unbuilt = cost_table(["ulsam"], shapes=[(1, 6, 4, 4)], **FAST)[0]
    assert unbuilt.latency is None and unbuilt.params is None and unbuilt.note.startswith("not built")
    unrun = cost_table(["cbam"], shapes=[(1, 32, 1, 1)], mode="train", **FAST)[0]
    assert unrun.latency is None and unrun.params == count_parameters(make_attention("cbam", 32))
    assert "BatchNorm" in unrun.note
    line = CostTable((unbuilt, unrun), "train", 1, 0.01).to_markdown().splitlines()[2]
    assert "| - |" in line


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"names": ["se", "nope"]}, "names"),
        ({"shapes": [(2, 8, 4)]}, "shapes"),
        ({"shapes": [(2, 0, 4, 4)]}, "shapes"),
        ({"mode": "inference"}, "mode"),
        ({"threads": -1}, "threads"),
        ({"min_run_time": float("inf")}, "min_run_time"),
    ],
)
def test_cost_table_rejects_bad_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        cost_table(**kwargs)


_PAGE_FAULTS = """
import resource, torch
from lightattn_ref.cost import retain_freed_memory
def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        blocks = [torch.ones(4_000_000) for _ in range(3)]  # three 16 MB blocks, freed at once
        del blocks
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
applied = retain_freed_memory()
faults()
print(applied, faults())
"""


def _printed_by(script: str) -> list[str]:
    """The words ``script`` prints when run in a fresh Python process, with a fresh malloc.

    The process starts without ``THP_MEM_ALLOC_ENABLE``, whatever the test run's environment.
    """
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    command = [sys.executable, "-c", script]
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout.split()


def test_retain_freed_memory_ends_page_faults_on_reallocation() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":  # the no-glibc branch: test_allocator_calls_are_no_ops_without_glibc
        assert not retain_freed_memory()
        return
    applied, faults = _printed_by(_PAGE_FAULTS)
    # by default glibc often returns such blocks to the kernel and faults their ~12,000 pages
    # of 4 KiB in again on every round; with the memory retained, the rounds reuse it
    assert applied == "True" and int(faults) < 100


@pytest.mark.parametrize("allocator_call", [retain_freed_memory, trim_heap])
def test_allocator_calls_are_no_ops_without_glibc(monkeypatch: pytest.MonkeyPatch, allocator_call) -> None:
    import platform

    monkeypatch.setattr(platform, "libc_ver", lambda *args, **kwargs: ("", ""))
    assert allocator_call() is False


_TRIM = """
import torch
from lightattn_ref.cost import retain_freed_memory, trim_heap
def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6
retain_freed_memory()
blocks = [torch.ones(4_000_000) for _ in range(4)]  # four 16 MB blocks on the heap, then freed
del blocks
kept = resident_mb()
trimmed = trim_heap()
print(trimmed, kept - resident_mb())
"""


def test_trim_heap_returns_the_freed_heap_to_the_kernel() -> None:
    import platform

    if platform.libc_ver()[0] != "glibc":  # the no-glibc branch: test_allocator_calls_are_no_ops_without_glibc
        assert not trim_heap()
        return
    trimmed, released_mb = _printed_by(_TRIM)
    # retained, the 64 MB stay resident after the tensors are freed; the trim gives them back,
    # so the next timing starts from a heap in the same state whatever ran before
    assert trimmed == "True" and float(released_mb) > 48


_HUGE_PAGES = """
import torch
from lightattn_ref.cost import use_huge_pages
def huge_kib():
    with open("/proc/self/smaps_rollup") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("AnonHugePages:"))
asked = use_huge_pages()
before = huge_kib()
x = torch.ones(8, 256, 56, 56)  # 25.7 MB, as x at ResNet-50's first stage
print(asked, (huge_kib() - before) * 1024 / x.nbytes)
"""

# PyTorch reads THP_MEM_ALLOC_ENABLE at its first allocation, so asking after one is too late
_HUGE_PAGES_TOO_LATE = _HUGE_PAGES.replace("asked = use_huge_pages()", "torch.ones(1)\nasked = use_huge_pages()")


def test_use_huge_pages_backs_large_tensors_with_huge_pages() -> None:
    if sys.platform != "linux":  # no transparent huge pages, nothing to report
        assert use_huge_pages() is False
        return
    asked, share = _printed_by(_HUGE_PAGES)
    if _transparent_huge_pages_mode() in ("always", "madvise"):
        # most of x lies in 2 MiB pages (not its unaligned ends, nor memory the heap had faulted before)
        assert asked == "True" and float(share) > 0.5
    else:
        assert asked == "False" and float(share) == 0.0


def test_use_huge_pages_says_so_when_it_comes_too_late() -> None:
    if sys.platform != "linux":  # no transparent huge pages, early or late
        assert use_huge_pages() is False
        return
    asked, share = _printed_by(_HUGE_PAGES_TOO_LATE)
    if _transparent_huge_pages_mode() == "always":  # the kernel gives huge pages without being asked
        assert asked == "True" and float(share) > 0.5
    else:
        assert asked == "False" and float(share) < 0.2


def test_use_huge_pages_is_false_where_the_kernel_reports_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_open = builtins.open

    def no_proc_or_sys(path, *args, **kwargs):
        if str(path).startswith(("/proc/", "/sys/")):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", no_proc_or_sys)
    monkeypatch.delenv("THP_MEM_ALLOC_ENABLE", raising=False)
    assert _transparent_huge_pages_mode() == "" and use_huge_pages() is False


def test_latency_trims_the_heap_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing leaves the process's heap alone unless the caller passes trim=True (the benchmark does)."""
    import lightattn_ref.cost as cost

    calls: list[int] = []
    monkeypatch.setattr(cost, "trim_heap", lambda: calls.append(1) or True)
    cost.measure_latency(nn.Identity(), (1, 4, 2, 2), min_run_time=1e-3)
    cost.floor_latency((1, 4, 2, 2), min_run_time=1e-3)
    assert calls == []
    cost.measure_latency(nn.Identity(), (1, 4, 2, 2), min_run_time=1e-3, trim=True)
    cost.floor_latency((1, 4, 2, 2), min_run_time=1e-3, trim=True)
    assert calls == [1, 1]
