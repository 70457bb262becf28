"""The benchmark's report: targets with their range over rounds, slower-than verdicts, caption, README."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lightattn_ref import bench
from lightattn_ref.cost import DEFAULT_SHAPES, LatencyResult


def test_report_calls_slower_only_what_every_round_finds_slower() -> None:
    def row(name: str, speedups: tuple[float, ...], pooled: float) -> bench.BenchRow:
        timing = LatencyResult(1.0, 0.0, 1, 1, 2, "train", (8, 256, 56, 56))
        official = dataclasses.replace(timing, median=pooled)  # pooled speed-up = official / ours
        return bench.BenchRow(name, (8, 256, 56, 56), "train", timing, official, timing, speedups)

    rows = [row("se", (0.9, 1.05, 0.95), 0.97), row("eca", (0.9, 0.95, 0.8), 0.9), row("sa", (1.2, 1.1, 1.3), 1.2)]
    report = bench.target_report(rows)
    assert "- slower than the official code in every round: eca (8, 256, 56, 56) train" in report
    assert "- slower than the official code by the pooled median only, within the rounds' spread: se (8, 256, 56, 56) train" in report
    line = bench.to_markdown(rows).splitlines()[2]
    # official, ours, train floor (3.5 copies of x), ours / floor, speed-up and its range in the rounds
    assert line == "| se | (8, 256, 56, 56) | train | 970 ± 0 | 1e+03 ± 0 | 3.5e+03 ± 0 | 0.29 | 0.97 | 0.90-1.05 |"
    assert "compiled" not in bench.to_markdown(rows)  # no compiled columns without compiled rows
    assert "compiled ours" not in report  # no compiled lines without compiled rows


def test_report_gives_each_targets_range_over_the_rounds() -> None:
    shape = DEFAULT_SHAPES[0]
    timing = LatencyResult(1.0, 0.0, 1, 1, 2, "eval", shape)
    floor = dataclasses.replace(timing, median=0.2, mode="copy")  # pooled ours / floor = 5.0
    ratios = (4.5, 5.5, 4.9, 6.0)
    row = bench.BenchRow("sa", shape, "eval", timing, timing, floor, (1.0,) * 4, ratios)
    report = bench.target_report([row])
    assert f"- sa {shape}: 5.00 x floor, 4.50-6.00 in the rounds (target <= 5: met, in 2 of 4 rounds)" in report
    slow = dataclasses.replace(row, floor=dataclasses.replace(floor, median=0.19))
    assert "5.26 x floor, 4.50-6.00 in the rounds (target <= 5: missed, met in 2 of 4 rounds)" in bench.target_report([slow])


def test_write_readme_replaces_only_the_marked_block(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\noutro\n")
    bench.write_readme("new table", readme)
    assert readme.read_text() == "intro\n<!-- bench:start -->\nnew table\n<!-- bench:end -->\noutro\n"
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="bench:start"):
        bench.write_readme("x", readme)


def test_describe_names_the_allocator_setting() -> None:
    assert "malloc keeps freed memory" in bench.describe(2, 0.3, retained_memory=True, rounds=3)
    assert "system malloc defaults" in bench.describe(2, 0.3, rounds=3)
    assert "3 interleaved rounds" in bench.describe(2, 0.3, rounds=3)
    assert "malloc keeps freed memory, huge pages," in bench.describe(2, 0.3, True, 3, huge_pages=True)
    assert "system malloc defaults, no huge pages," in bench.describe(2, 0.3, rounds=3)


def test_describe_names_the_floors_and_the_compile_settings() -> None:
    eager = bench.describe(2, 0.3, rounds=3)
    assert "floor: eval, one copy of x; train, the train floor, train_passes / 2 copies" in eager
    assert "torch.compile" not in eager
    assert eager + "; torch.compile: Inductor, fullgraph, static shapes; compile time excluded from the times" == (
        bench.describe(2, 0.3, rounds=3, compiled=True)
    )


def _timed(median: float, mode: str, shape: tuple[int, ...], compile_s: float | None = None) -> LatencyResult:
    return LatencyResult(median, 0.0, 1, 1, 2, mode, shape, compile_s=compile_s)


def _compiled_row(
    name: str, ours_compiled: float, ratios: tuple[float, ...], speedups: tuple[float, ...],
    mode: str = "train", shape: tuple[int, ...] = DEFAULT_SHAPES[0], official_compiled: float = 1.0,
) -> bench.BenchRow:
    """Eager ours 1.0, official 2.0, copy floor 0.1; compiled as given, with their per-round ratios."""
    return bench.BenchRow(
        name, shape, mode, _timed(1.0, mode, shape), _timed(2.0, mode, shape), _timed(0.1, "copy", shape),
        (2.0,), (10.0,), _timed(official_compiled, mode, shape, 3.0), _timed(ours_compiled, mode, shape, 1.25),
        ratios, speedups,
    )


def test_report_gives_each_compiled_verdict() -> None:
    rows = [
        # slower than both others in every round: pooled 1.0 / 1.2; 1.2 / 0.35 = 3.43 train floors (SE: 3.5 copies)
        _compiled_row("se", 1.2, (0.8, 0.9), (0.8, 0.9)),
        # slower by the pooled median only; slower than compiled official by the pooled median only
        _compiled_row("eca", 1.05, (1.1, 0.9), (1.1, 0.9)),
        _compiled_row("cbam", 0.5, (2.0, 2.0), (2.0, 2.0)),  # no target: 0.5 / 0.5 = 1.00 train floors
        _compiled_row("coord", 0.5, (2.0, 2.0), (2.0, 2.0)),  # 0.5 / 0.35 = 1.43: met
        _compiled_row("sa", 3.0, (0.3,), (0.3,), shape=(2, 64, 4, 4), official_compiled=0.9),  # not a largest shape
    ]
    report = bench.target_report(rows)
    shape = DEFAULT_SHAPES[0]
    best = "- compiled ours slower than min(ours eager, official compiled)"
    assert f"{best} in every round: se {shape} train, sa (2, 64, 4, 4) train" in report
    assert f"{best} by the pooled median only, within the rounds' spread: eca {shape} train" in report
    assert (f"- compiled ours slower than compiled official at the two largest shapes: se {shape} train "
            f"(in every round), eca {shape} train (by the pooled median only)") in report
    assert f"- se {shape}: ours compiled = 3.43 x train floor (target <= 3: missed)" in report
    assert f"- coord {shape}: ours compiled = 1.43 x train floor (target <= 3: met)" in report
    assert f"- cbam {shape}: ours compiled = 1.00 x train floor (no target, reported)" in report
    assert "- sa (2, 64, 4, 4)" not in report  # train floor targets hold at the two largest shapes only
    fast = bench.target_report(rows[2:4])
    assert f"{best} in every round: none" in fast and "at the two largest shapes: none" in fast


def test_markdown_and_compile_times_show_the_compiled_columns() -> None:
    row = _compiled_row("coord", 0.5, (1.9, 2.1), (2.0,))
    line = bench.to_markdown([row]).splitlines()[2]
    # official, ours, train floor (3.5 copies), ours / floor, speed-up and its range; then official
    # compiled, ours compiled, ours compiled / floor, the compiled ratio and its range
    assert line == (f"| coord | {DEFAULT_SHAPES[0]} | train | 2e+03 ± 0 | 1e+03 ± 0 | 350 ± 0 | 2.86 | 2.00 "
                    "| 2.00-2.00 | 1e+03 ± 0 | 500 ± 0 | 1.43 | 2.00 | 1.90-2.10 |")
    times = bench.compile_times([row, dataclasses.replace(row, ours_compiled=None, official_compiled=None)])
    assert times.splitlines()[2] == f"| coord | {DEFAULT_SHAPES[0]} | train | 3.00 | 1.25 |"
    assert len(times.splitlines()) == 3  # the row without compiled results is left out
    assert bench.compile_times([dataclasses.replace(row, ours_compiled=None, official_compiled=None)]) == ""


def test_train_rows_compare_with_the_train_floor() -> None:
    row = _compiled_row("sa", 0.5, (1.0,), (1.0,))
    assert row.floor_copies == 3.75 and row.floor_s == pytest.approx(0.375)  # SA: 7.5 train passes
    assert row.ours_over_floor == pytest.approx(1.0 / 0.375)
    assert row.ours_compiled_over_floor == pytest.approx(0.5 / 0.375)
    evaluation = dataclasses.replace(row, mode="eval")
    assert evaluation.floor_copies == 1.0 and evaluation.ours_over_floor == pytest.approx(10.0)
