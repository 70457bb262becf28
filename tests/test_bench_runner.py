"""The benchmark's rows: ratios from one run, interleaved rounds, pooled rounds and processes,
eager and compiled."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from lightattn_ref import bench
from lightattn_ref.bench import runner
from lightattn_ref.cost import LatencyResult


def test_bench_rows_ratios_and_markdown() -> None:
    rows = bench.run(["se", "sa"], [(2, 128, 6, 5)], ["eval", "train"], threads=1, min_run_time=0.01, compiled=False)
    assert [(r.name, r.mode) for r in rows] == [("se", "eval"), ("se", "train"), ("sa", "eval"), ("sa", "train")]
    for r in rows:
        assert r.ours.threads == r.official.threads == r.floor.threads == 1
        assert r.ours.mode == r.mode and r.floor.mode == "copy"
        assert r.speedup == pytest.approx(r.official.median / r.ours.median)
        copies = {"eval": 1.0, "train": {"se": 3.5, "sa": 3.75}[r.name]}[r.mode]  # train: train_passes / 2
        assert r.ours_over_floor == pytest.approx(r.ours.median / (copies * r.floor.median))
        assert r.ours_compiled is r.official_compiled is None and r.round_compiled_ratios == ()
    table = bench.to_markdown(rows)
    assert table.count("\n") == 1 + len(rows) and "| sa | (2, 128, 6, 5) | train |" in table


def test_merge_rounds_pools_every_timed_block() -> None:
    def result(times: tuple[float, ...]) -> LatencyResult:
        return LatencyResult(0.0, 0.0, len(times), 10, 2, "eval", (1, 2, 3, 4), times=times)

    merged = bench.merge_rounds([result((1.0, 2.0)), result((3.0,)), result((4.0, 5.0))])
    assert merged.times == (1.0, 2.0, 3.0, 4.0, 5.0) and merged.runs == 5
    assert merged.median == 3.0 and merged.iqr == pytest.approx(2.0)  # quartiles 2 and 4 of 1..5
    assert merged.threads == 2 and merged.mode == "eval" and merged.shape == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="no rounds"):
        bench.merge_rounds([])


def test_bench_interleaves_rounds() -> None:
    rows = bench.run(["se"], [(2, 64, 4, 4)], ["eval"], threads=1, min_run_time=0.01, rounds=3, compiled=False)
    (row,) = rows
    for result in (row.ours, row.official, row.floor):
        assert result.runs == len(result.times) >= 3  # at least one timed block per round
    assert len(row.round_speedups) == 3 and all(s > 0 for s in row.round_speedups)
    assert len(row.round_floor_ratios) == 3 and all(r > 0 for r in row.round_floor_ratios)
    assert "| se | (2, 64, 4, 4) | eval |" in bench.to_markdown(rows)
    with pytest.raises(ValueError, match="rounds=0"):
        bench.run(["se"], [(2, 64, 4, 4)], ["eval"], threads=1, min_run_time=0.01, rounds=0)


def _row(name: str, ours_times: tuple[float, ...], speedups: tuple[float, ...]) -> bench.BenchRow:
    def result(times: tuple[float, ...], mode: str) -> LatencyResult:
        return LatencyResult(sorted(times)[len(times) // 2], 0.0, len(times), 3, 2, mode, (2, 64, 4, 4), times=times)

    return bench.BenchRow(name, (2, 64, 4, 4), "eval", result(ours_times, "eval"), result((2.0,), "eval"),
                          result((1.0,), "copy"), speedups, tuple(2 * s for s in speedups))


def test_rows_survive_json() -> None:
    rows = [_row("se", (1.0, 1.5), (1.1, 0.9)), _row("eca", (2.0,), (1.0,))]
    assert bench.rows_from_json(bench.rows_to_json(rows)) == rows


def test_merge_processes_pools_blocks_and_rounds() -> None:
    first = [_row("se", (1.0, 1.2), (1.1, 0.9)), _row("eca", (2.0,), (1.0,))]
    second = [_row("se", (3.0,), (0.5,)), _row("eca", (2.2, 2.4), (1.2, 1.3))]
    se, eca = bench.merge_processes([first, second])
    assert se.name == "se" and se.ours.times == (1.0, 1.2, 3.0) and se.ours.median == 1.2
    assert se.round_speedups == (1.1, 0.9, 0.5) and eca.ours.runs == 3
    assert se.round_floor_ratios == (2.2, 1.8, 1.0)
    with pytest.raises(ValueError, match="same rows"):
        bench.merge_processes([first, second[:1]])


def _compiled(row: bench.BenchRow, ours: tuple[float, ...], official: tuple[float, ...]) -> bench.BenchRow:
    def result(times: tuple[float, ...], compile_s: float) -> LatencyResult:
        return dataclasses.replace(row.ours, median=sorted(times)[len(times) // 2], runs=len(times), times=times,
                                   compile_s=compile_s)

    return dataclasses.replace(row, ours_compiled=result(ours, 1.5), official_compiled=result(official, 2.5),
                               round_compiled_ratios=(0.9,) * len(ours), round_compiled_speedups=(1.2,) * len(ours))


def test_rows_with_and_without_compiled_results_survive_json() -> None:
    plain = _row("se", (1.0, 1.5), (1.1, 0.9))
    rows = [_compiled(plain, (0.5, 0.6), (0.7,)), _row("eca", (2.0,), (1.0,))]
    back = bench.rows_from_json(bench.rows_to_json(rows))
    assert back == rows
    assert back[0].ours_compiled.compile_s == 1.5 and back[0].round_compiled_ratios == (0.9, 0.9)
    assert back[1].ours_compiled is None and back[1].official_compiled is None
    # rows written before the compiled fields existed still load
    old = [{k: v for k, v in d.items() if "compiled" not in k} for d in json.loads(bench.rows_to_json(rows[1:]))]
    assert bench.rows_from_json(json.dumps(old)) == rows[1:]


def test_merge_pools_compiled_results_and_keeps_the_first_compile_time() -> None:
    first = _compiled(_row("se", (1.0,), (1.1,)), (0.5,), (0.7,))
    later = _compiled(_row("se", (1.2,), (0.9,)), (0.4, 0.6), (0.8,))
    later = dataclasses.replace(later, ours_compiled=dataclasses.replace(later.ours_compiled, compile_s=0.01))
    merged = bench.merge_rows([first, later])
    assert merged.ours_compiled.times == (0.5, 0.4, 0.6) and merged.ours_compiled.compile_s == 1.5
    assert merged.official_compiled.times == (0.7, 0.8)
    assert merged.round_compiled_ratios == (0.9, 0.9, 0.9) and merged.round_compiled_speedups == (1.2,) * 3
    assert merged.compiled_ratio == pytest.approx(min(1.1, 0.75) / 0.5)  # pooled medians
    mixed = bench.merge_rows([first, _row("se", (1.2,), (0.9,))])  # one round without: none pooled
    assert mixed.ours_compiled is None and mixed.official_compiled is None


def test_run_times_compiled_pairs_after_one_reset_per_pair_and_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stubbed timings: the order of the calls, the resets and the ratios, without compiling."""
    calls: list[tuple[str, str, bool]] = []
    resets: list[int] = []

    def fake_measure(module, shape, mode, *, threads, min_run_time, trim, compiled=False):  # noqa: ANN001, ANN202
        who = "official" if "official" in type(module).__module__ else "ours"
        calls.append((who, mode, compiled))
        median = {("official", False): 4.0, ("ours", False): 2.0, ("official", True): 3.0, ("ours", True): 1.0}
        compile_s = float(len(calls)) if compiled else None
        m = median[who, compiled]
        return LatencyResult(m, 0.0, 1, 1, threads, mode, tuple(shape), times=(m,), compile_s=compile_s)

    def fake_floor(shape, *, threads, min_run_time, trim):  # noqa: ANN001, ANN202
        return LatencyResult(0.5, 0.0, 1, 1, threads, "copy", tuple(shape), times=(0.5,))

    monkeypatch.setattr(runner, "measure_latency", fake_measure)
    monkeypatch.setattr(runner, "floor_latency", fake_floor)
    monkeypatch.setattr(torch.compiler, "reset", lambda: resets.append(len(calls)))
    loaded: list[int] = []
    monkeypatch.setattr(runner, "_load_compiler", lambda: loaded.append(len(calls)))
    eval_row, train_row = bench.run(["se"], [(2, 64, 4, 4)], ["eval", "train"], threads=1, rounds=2)
    assert loaded == [0] and resets == [0, 8]  # the compiler loaded once; a reset before each mode's first round
    assert calls[:4] == [("official", "eval", False), ("ours", "eval", False),
                         ("official", "eval", True), ("ours", "eval", True)]
    assert eval_row.ours_compiled.compile_s == 4.0 and eval_row.official_compiled.compile_s == 3.0  # round 1
    assert eval_row.round_compiled_ratios == (2.0, 2.0)  # min(2, 3) / 1
    assert eval_row.round_compiled_speedups == (3.0, 3.0) and eval_row.compiled_speedup == 3.0
    assert eval_row.ours_compiled_over_floor == 2.0  # 1 / 0.5: eval, one copy of x
    assert train_row.ours_compiled_over_floor == pytest.approx(1.0 / (0.5 * 7 / 2))  # SE: 7 train passes
    assert train_row.round_floor_ratios == (pytest.approx(2.0 / 1.75),) * 2
    calls.clear()
    bench.run(["se"], [(2, 64, 4, 4)], ["eval"], threads=1, rounds=1, compiled=False)
    assert [c[2] for c in calls] == [False, False] and resets == [0, 8] and loaded == [0]  # no compile, no reset


def test_run_compiles_a_real_pair_at_a_tiny_shape() -> None:
    (row,) = bench.run(["se"], [(2, 32, 8, 8)], ["eval"], threads=1, min_run_time=0.01, rounds=1)
    for result in (row.ours_compiled, row.official_compiled):
        assert result is not None and result.median > 0 and result.compile_s > 0
    assert len(row.round_compiled_ratios) == len(row.round_compiled_speedups) == 1
    assert row.compiled_ratio > 0 and "| se | (2, 32, 8, 8) | eval |" in bench.to_markdown([row])
