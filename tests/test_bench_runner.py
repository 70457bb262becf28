"""The benchmark's rows: ratios from one run, interleaved rounds, pooled rounds and processes."""

from __future__ import annotations

import pytest

from lightattn_ref import bench
from lightattn_ref.cost import LatencyResult


def test_bench_rows_ratios_and_markdown() -> None:
    rows = bench.run(["se", "sa"], [(2, 128, 6, 5)], ["eval", "train"], threads=1, min_run_time=0.01)
    assert [(r.name, r.mode) for r in rows] == [("se", "eval"), ("se", "train"), ("sa", "eval"), ("sa", "train")]
    for r in rows:
        assert r.ours.threads == r.official.threads == r.floor.threads == 1
        assert r.ours.mode == r.mode and r.floor.mode == "copy"
        assert r.speedup == pytest.approx(r.official.median / r.ours.median)
        assert r.ours_over_floor == pytest.approx(r.ours.median / r.floor.median)
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
    rows = bench.run(["se"], [(2, 64, 4, 4)], ["eval"], threads=1, min_run_time=0.01, rounds=3)
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
