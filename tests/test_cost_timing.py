"""Latency and its floor. Tiny shapes, one thread and short ``min_run_time`` keep this file fast
and independent of the machine's speed; only one test compares two timings, with a wide margin."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.cost import LatencyResult, floor_latency, measure_latency
from lightattn_ref.registry import make_attention

FAST = {"threads": 1, "min_run_time": 0.01}


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


def test_latency_trims_the_heap_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Timing leaves the process's heap alone unless the caller passes trim=True (the benchmark does)."""
    from lightattn_ref.cost import timing

    calls: list[int] = []
    monkeypatch.setattr(timing, "trim_heap", lambda: calls.append(1) or True)
    measure_latency(nn.Identity(), (1, 4, 2, 2), min_run_time=1e-3)
    floor_latency((1, 4, 2, 2), min_run_time=1e-3)
    assert calls == []
    measure_latency(nn.Identity(), (1, 4, 2, 2), min_run_time=1e-3, trim=True)
    floor_latency((1, 4, 2, 2), min_run_time=1e-3, trim=True)
    assert calls == [1, 1]


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_measure_latency_compiled_reports_the_compile_time_apart(mode: str) -> None:
    se = make_attention("se", 16)
    torch.compiler.reset()  # a cold compile, so the first call's seconds are the compile's
    compiled = measure_latency(se, (2, 16, 4, 4), mode, compiled=True, **FAST)
    assert isinstance(compiled.compile_s, float) and compiled.compile_s > 0
    assert compiled.median > 0 and compiled.mode == mode and compiled.runs >= 1
    eager = measure_latency(se, (2, 16, 4, 4), mode, **FAST)
    assert eager.compile_s is None and eager.median > 0
