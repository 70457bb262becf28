"""The command line: its options, its child processes, and the allocator settings it times in.

No test passes ``--readme``: README.md is written only by a person running the benchmark.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest

from lightattn_ref import bench
from lightattn_ref.bench import cli
from lightattn_ref.cost import AllocatorSettings
from lightattn_ref.cost.allocator import _transparent_huge_pages_mode

TINY = ["--names", "se", "--shapes", "2,64,4,4", "--modes", "eval", "--threads", "1",
        "--min-run-time", "0.01", "--rounds", "1"]


def _bench_command(*options: str) -> list[str]:
    return [sys.executable, "-m", "lightattn_ref.bench", *options]


def test_help_works_and_keeps_the_description() -> None:
    out = subprocess.run(_bench_command("--help"), capture_output=True, text=True, check=True).stdout
    assert out.startswith("usage: python -m lightattn_ref.bench")
    assert "--system-malloc" in out and "--processes" in out
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
        ["--names", "se", "eca", "--shapes", "2,64,4,4", "--proc", "3", "--read", "--rounds", "2", "--system-malloc"]
    )
    assert args.processes == 3 and args.readme  # argparse took the abbreviations
    child = cli._child_argv(args)
    assert not any(a.startswith(("--p", "--re")) for a in child)
    again = cli._parser().parse_args(child)
    kept = ("names", "shapes", "modes", "threads", "min_run_time", "rounds", "system_malloc")
    assert all(getattr(again, k) == getattr(args, k) for k in kept)
    assert again.processes == 1 and not again.readme
