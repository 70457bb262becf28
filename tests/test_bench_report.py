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
    assert line.endswith("| 0.97 | 0.90-1.05 |")  # pooled speed-up, then its range over rounds


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
