"""The command line: its options, its child processes, and the allocator settings it times in.

No test passes ``--readme``: README.md is written only by a person running the benchmark.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lightattn_ref import bench
from lightattn_ref.bench import cli
from lightattn_ref.cost import DEFAULT_SHAPES
from lightattn_ref.cost import AllocatorSettings, LatencyResult
from lightattn_ref.cost.allocator import _transparent_huge_pages_mode

TINY = ["--names", "se", "--shapes", "2,64,4,4", "--modes", "eval", "--threads", "1",
        "--min-run-time", "0.01", "--rounds", "1", "--no-compile"]


def _bench_command(*options: str) -> list[str]:
    return [sys.executable, "-m", "lightattn_ref.bench", *options]


def test_help_works_and_keeps_the_description() -> None:
    out = subprocess.run(_bench_command("--help"), capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: python -m lightattn_ref.bench")
    assert "--system-malloc" in out and "--processes" in out and "--no-compile" in out and "--save" in out
    assert " ".join(cli.DESCRIPTION.split()) in " ".join(out.split())
    assert bench.__doc__.split("\n\n")[0] == cli.DESCRIPTION  # the package's docstring opens with it


@pytest.fixture
def fake_mallopt(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Record mallopt calls instead of making them, so the test process's malloc is untouched."""
    from lightattn_ref.cost import allocator

    calls: list[tuple[int, int]] = []
    def glibc_function(name: str, *argtypes: type):
        return lambda *args: calls.append(args) or 1

    monkeypatch.setattr(allocator, "_glibc_function", glibc_function)
    return calls


def test_processes_option_runs_separate_processes(
    fake_mallopt: list[tuple[int, int]], capsys: pytest.CaptureFixture[str]
) -> None:
    bench.main([*TINY, "--processes", "2"])
    out = capsys.readouterr().out
    assert "in each of 1 interleaved rounds in each of 2 processes" in out
    assert out.count("| se | (2, 64, 4, 4) | eval |") == 1


def test_main_times_inside_allocator_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked: list[dict[str, bool]] = []
    inside: list[bool] = []

    @contextlib.contextmanager
    def recorder(**settings: bool):
        asked.append(settings)
        inside.append(True)
        yield AllocatorSettings(retain_freed=settings["retain_freed"], huge_pages=False)
        inside.append(False)

    def run(*args, **kwargs):
        assert inside[-1], "the benchmark must time inside the with block"
        return []

    monkeypatch.setattr(cli, "allocator_settings", recorder)
    monkeypatch.setattr(cli, "run", run)
    bench.main(TINY)
    assert asked == [{"retain_freed": True, "huge_pages": True}] and inside == [True, False]
    assert "malloc keeps freed memory, no huge pages," in capsys.readouterr().out
    bench.main([*TINY, "--system-malloc"])
    assert asked[-1] == {"retain_freed": False, "huge_pages": False}
    assert "system malloc defaults, no huge pages," in capsys.readouterr().out


def test_main_leaves_the_environment_and_malloc_as_it_found_them(
    monkeypatch: pytest.MonkeyPatch, fake_mallopt: list[tuple[int, int]]
) -> None:
    monkeypatch.setenv("THP_MEM_ALLOC_ENABLE", "0")
    monkeypatch.setattr(cli, "run", lambda *args, **kwargs: [])
    bench.main(TINY)
    assert os.environ["THP_MEM_ALLOC_ENABLE"] == "0"
    assert fake_mallopt[-2:] == [(-3, 128 * 1024), (-1, 128 * 1024)]  # glibc's defaults again


def test_command_line_gets_huge_pages_before_any_tensor_exists() -> None:
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    out = subprocess.run(_bench_command(*TINY), capture_output=True, text=True, check=True, env=env).stdout
    available = _transparent_huge_pages_mode() in ("always", "madvise")
    # importing the package allocates no tensor, so PyTorch still reads THP_MEM_ALLOC_ENABLE
    assert (", huge pages," in out) == available and (", no huge pages," in out) != available


def test_child_processes_get_the_options_but_never_processes_or_readme() -> None:
    args = cli._parser().parse_args(
        ["--names", "se", "eca", "--shapes", "2,64,4,4", "--proc", "3", "--read", "--rounds", "2", "--system-malloc",
         "--no-compile", "--save", "rows.json"]
    )
    assert args.processes == 3 and args.readme  # argparse took the abbreviations
    child = cli._child_argv(args)
    assert not any(a.startswith(("--p", "--re", "--sa")) for a in child)
    again = cli._parser().parse_args(child)
    kept = ("names", "shapes", "modes", "threads", "min_run_time", "rounds", "system_malloc", "no_compile")
    assert all(getattr(again, k) == getattr(args, k) for k in kept)
    assert again.processes == 1 and not again.readme and again.save is None
    assert "--no-compile" not in cli._child_argv(cli._parser().parse_args(["--names", "se"]))


def _row(compiled: bool) -> bench.BenchRow:
    shape = (2, 64, 4, 4)
    timed = LatencyResult(1e-3, 0.0, 1, 1, 1, "eval", shape, times=(1e-3,))
    row = bench.BenchRow("se", shape, "eval", timed, timed, dataclasses.replace(timed, mode="copy"), (1.0,), (1.0,))
    if compiled:
        fast = dataclasses.replace(timed, median=5e-4, times=(5e-4,), compile_s=2.0)
        row = dataclasses.replace(row, ours_compiled=fast, official_compiled=fast,
                                  round_compiled_ratios=(2.0,), round_compiled_speedups=(1.0,))
    return row


def test_no_compile_reaches_run_and_the_caption(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fake_mallopt: list[tuple[int, int]]
) -> None:
    asked: list[bool] = []

    def run(*args, compiled: bool, **kwargs):  # noqa: ANN002, ANN003, ANN202
        asked.append(compiled)
        return [_row(compiled)]

    monkeypatch.setattr(cli, "run", run)
    bench.main(TINY)
    out = capsys.readouterr().out
    assert asked == [False] and "torch.compile" not in out and "ours compiled" not in out and "compile [s]" not in out
    bench.main([a for a in TINY if a != "--no-compile"])
    out = capsys.readouterr().out
    assert asked == [False, True] and "torch.compile: Inductor, fullgraph, static shapes" in out
    assert "| se | (2, 64, 4, 4) | eval | 2.00 | 2.00 |" in out  # the compile times, official and ours
    assert "- compiled ours slower than min(ours eager, official compiled) in every round: none" in out


def test_save_writes_the_caption_and_rows_as_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    fake_mallopt: list[tuple[int, int]],
) -> None:
    rows = [_row(True), dataclasses.replace(_row(False), name="eca")]
    monkeypatch.setattr(cli, "run", lambda *args, **kwargs: rows)
    path = tmp_path / "bench.json"
    bench.main([*TINY, "--save", str(path)])
    saved = json.loads(path.read_text())
    assert set(saved) == {"caption", "date", "machine", "torch", "rows"}
    assert saved["caption"] in capsys.readouterr().out and saved["torch"] == torch.__version__
    # the rows come back, None included, without the time of every timed block
    slim = [bench.results._without_block_times(r) for r in rows]
    assert bench.rows_from_json(json.dumps(saved["rows"])) == slim
    run = bench.load_results(path)
    assert run.rows == slim and run.caption == saved["caption"] and run.machine and run.date[:2] == "20"
    assert [r.ours.median for r in run.rows] == [r.ours.median for r in rows]


def test_load_results_names_the_shipped_runs() -> None:
    with pytest.raises(ValueError, match="name_or_path='no-such-run'.*shipped runs"):
        bench.load_results("no-such-run")


def test_the_shipped_cpu_run_covers_every_module_shape_and_mode_compiled() -> None:
    run = bench.load_results("cpu")  # read by the appendix; regenerate with the command in bench/results.py
    keys = {(r.name, r.shape, r.mode) for r in run.rows}
    assert keys == {(n, s, m) for n in bench.ATTENTION_NAMES for s in DEFAULT_SHAPES for m in ("eval", "train")}
    assert all(r.ours_compiled is not None and r.official_compiled is not None for r in run.rows)
