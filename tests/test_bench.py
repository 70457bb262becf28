"""The benchmark checks outputs before it times, and reports ratios from one run."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from lightattn_ref import bench


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
    from lightattn_ref.cost import LatencyResult

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


def test_report_calls_slower_only_what_every_round_finds_slower() -> None:
    from lightattn_ref.cost import LatencyResult

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
    from lightattn_ref.cost import DEFAULT_SHAPES, LatencyResult

    shape = DEFAULT_SHAPES[0]
    timing = LatencyResult(1.0, 0.0, 1, 1, 2, "eval", shape)
    floor = dataclasses.replace(timing, median=0.2, mode="copy")  # pooled ours / floor = 5.0
    ratios = (4.5, 5.5, 4.9, 6.0)
    row = bench.BenchRow("sa", shape, "eval", timing, timing, floor, (1.0,) * 4, ratios)
    report = bench.target_report([row])
    assert f"- sa {shape}: 5.00 x floor, 4.50-6.00 in the rounds (target <= 5: met, in 2 of 4 rounds)" in report
    slow = dataclasses.replace(row, floor=dataclasses.replace(floor, median=0.19))
    assert "5.26 x floor, 4.50-6.00 in the rounds (target <= 5: missed, met in 2 of 4 rounds)" in bench.target_report([slow])


def test_bench_refuses_a_module_that_differs_from_the_official_code() -> None:
    ours, official = bench.build_pair("eca", 64)
    with torch.no_grad():
        ours.conv.weight.add_(1e-3)
    with pytest.raises(AssertionError, match="differs from the official code"):
        bench.assert_same_outputs(ours, official, (2, 64, 4, 4))


def test_bench_checks_the_training_gradient_it_times() -> None:
    """A backward pass that differs while the forward pass agrees is caught in train mode."""

    class WrongBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            return x.clone()

        @staticmethod
        def backward(ctx, grad):  # noqa: ANN001, ANN205
            return 1.001 * grad

    ours, official = bench.build_pair("se", 64)
    forward = ours.forward
    ours.forward = lambda x: WrongBackward.apply(forward(x))
    with pytest.raises(AssertionError, match="differs from the official code"):
        bench.assert_same_outputs(ours, official, (2, 64, 4, 4))


def test_bench_pairs_agree_for_every_module() -> None:
    for name in bench.ATTENTION_NAMES:
        ours, official = bench.build_pair(name, 96)  # SA falls back to groups=48
        assert bench.assert_same_outputs(ours, official, (2, 96, 5, 7)) <= 1e-5


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


def _row(name: str, ours_times: tuple[float, ...], speedups: tuple[float, ...]) -> bench.BenchRow:
    from lightattn_ref.cost import LatencyResult

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


def test_processes_option_runs_separate_processes(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--names", "se", "--shapes", "2,64,4,4", "--modes", "eval", "--threads", "1",
                "--min-run-time", "0.01", "--rounds", "1", "--processes", "2"])
    out = capsys.readouterr().out
    assert "in each of 1 interleaved rounds in each of 2 processes" in out
    assert out.count("| se | (2, 64, 4, 4) | eval |") == 1


def test_command_line_gets_huge_pages_before_any_tensor_exists() -> None:
    import os
    import subprocess
    import sys

    from lightattn_ref.cost import _transparent_huge_pages_mode

    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    command = [sys.executable, "-m", "lightattn_ref.bench", "--names", "se", "--shapes", "2,64,4,4",
               "--modes", "eval", "--threads", "1", "--min-run-time", "0.01", "--rounds", "1"]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    available = _transparent_huge_pages_mode() in ("always", "madvise")
    # importing the package allocates no tensor, so PyTorch still reads THP_MEM_ALLOC_ENABLE
    assert (", huge pages," in out) == available and (", no huge pages," in out) != available


def test_child_processes_get_the_options_but_never_processes_or_readme() -> None:
    args = bench._parser().parse_args(
        ["--names", "se", "eca", "--shapes", "2,64,4,4", "--proc", "3", "--read", "--rounds", "2", "--system-malloc"]
    )
    assert args.processes == 3 and args.readme  # argparse took the abbreviations
    child = bench._child_argv(args)
    assert not any(a.startswith(("--p", "--re")) for a in child)
    again = bench._parser().parse_args(child)
    kept = ("names", "shapes", "modes", "threads", "min_run_time", "rounds", "system_malloc")
    assert all(getattr(again, k) == getattr(args, k) for k in kept)
    assert again.processes == 1 and not again.readme
