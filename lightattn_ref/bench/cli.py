"""The command line ``python -m lightattn_ref.bench``: options, child processes, and ``main``.

``main`` times inside ``cost.allocator_settings`` and enters it before the process makes its
first tensor, because PyTorch reads the huge-page setting once per process, at that moment.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch

from ..cost import DEFAULT_SHAPES, allocator_settings
from ..registry import ATTENTION_NAMES
from .report import compile_times, describe, target_report, to_markdown, write_readme
from .results import save_results
from .runner import ROUNDS, BenchRow, rows_to_json, run, run_in_processes

#: The command's description in ``--help``; also the first line of the package's docstring.
DESCRIPTION = "Benchmark: our modules against a literal transcription of the official code and the floor."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lightattn_ref.bench", description=DESCRIPTION)
    parser.add_argument("--names", nargs="+", default=list(ATTENTION_NAMES), choices=ATTENTION_NAMES)
    parser.add_argument(
        "--shapes", nargs="+", default=None, help="shapes as N,C,H,W (default: cost.DEFAULT_SHAPES)"
    )
    parser.add_argument("--modes", nargs="+", default=["eval", "train"], choices=["eval", "train"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--min-run-time", type=float, default=0.3, help="timed seconds per measurement and round"
    )
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="interleaved rounds of floor, official, ours"
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="fresh processes to run it in, results pooled"
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile columns (a quick run)"
    )
    parser.add_argument("--readme", action="store_true", help="also write the table into README.md")
    parser.add_argument(
        "--save", type=Path, default=None, help="also write the caption and the rows as JSON to this file"
    )
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="keep the allocator's defaults (see cost.allocator_settings)",
    )
    parser.add_argument("--json", type=Path, default=None, help=argparse.SUPPRESS)  # one process's rows
    return parser


def _child_argv(args: argparse.Namespace) -> list[str]:
    """The command line of one of ``--processes`` child processes, rebuilt from the parsed options.

    Rebuilt rather than filtered, so that no spelling of ``--processes`` (argparse also accepts
    abbreviations such as ``--proc``) reaches a child, which would start processes of its own.
    The parent pools the rows and writes the README and ``--save``, so those stay with it too.
    """
    argv = ["--names", *args.names, "--modes", *args.modes, "--threads", str(args.threads),
            "--min-run-time", str(args.min_run_time), "--rounds", str(args.rounds)]
    if args.shapes is not None:
        argv += ["--shapes", *args.shapes]
    if args.system_malloc:
        argv.append("--system-malloc")
    if args.no_compile:
        argv.append("--no-compile")
    return argv


def _measure(args: argparse.Namespace) -> list[BenchRow]:
    """The rows of this process, or pooled from ``--processes`` fresh ones."""
    if args.processes > 1:
        return run_in_processes(args.processes, _child_argv(args))
    shapes = DEFAULT_SHAPES
    if args.shapes is not None:
        shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes]
    timing = {"threads": args.threads, "min_run_time": args.min_run_time, "rounds": args.rounds}
    return run(args.names, shapes, args.modes, compiled=not args.no_compile, **timing)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse ``argv`` (default: the command line), time inside the allocator settings, report."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes={args.processes} must be at least 1")
    tuned = not args.system_malloc
    # entered before any tensor exists, so that PyTorch still reads THP_MEM_ALLOC_ENABLE
    with allocator_settings(retain_freed=tuned, huge_pages=tuned) as applied:
        rows = _measure(args)
    if args.json is not None:
        args.json.write_text(rows_to_json(rows))
        return
    settings = (args.threads, args.min_run_time, applied.retain_freed, args.rounds, args.processes)
    caption = describe(*settings, applied.huge_pages, compiled=not args.no_compile)
    parts = [caption, to_markdown(rows), compile_times(rows), target_report(rows)]
    text = "\n\n".join(part for part in parts if part)
    print(text)
    if args.save is not None:  # for the book to read: the caption and the rows, not the rendered text
        save_results(args.save, caption, rows)
    if args.readme:
        write_readme(text)
