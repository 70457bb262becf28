"""Benchmark: our modules against a literal transcription of the official code and the floor.

Run ``python -m lightattn_ref.bench`` (``--help`` for options). For every module and shape it
builds the official transcription (``lightattn_ref.official``) with random weights, loads the
same weights into our module with ``from_official``, asserts that both give the same output
(to 1e-5; in train mode also the same gradient of x), and then times, in one run and with an
explicit thread count:

- eval: a forward pass under ``torch.inference_mode``;
- train: a forward + backward pass;
- the floor: one read + one write of x (``cost.floor_latency``), measured again right before
  each module, so that a change in the machine's speed during the run cancels in the ratios.

The three are timed in ``rounds`` interleaved rounds (floor, official, ours, floor, ...), so
that a slow spell of a shared machine hits all three alike rather than one of them; each
result pools the timed blocks of all rounds. It prints a markdown table of medians with their
spreads (IQR) and of the ratios ours / floor and official / ours, then checks the targets, giving
for each its range over the rounds. ``--readme`` also writes the table into README.md between
the ``bench:start`` / ``bench:end`` markers, so the numbers there are regenerated, not typed.
Timings depend on the machine and on what else runs on it: compare ratios within one run.
The command line first asks glibc to keep freed memory (``cost.retain_freed_memory``, as
jemalloc or tcmalloc would), so that no module pays page faults on every call, and asks PyTorch
for transparent huge pages (``cost.use_huge_pages``), so that the fresh outputs that remain cost
few faults and times do not depend on what ran before; pass ``--system-malloc`` to time with
the allocator's defaults instead. Every timing starts from a trimmed heap (``cost.trim_heap``),
whatever ran before it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from .convert import load_official
from .cost import (
    DEFAULT_SHAPES,
    LatencyResult,
    floor_latency,
    measure_latency,
    retain_freed_memory,
    use_huge_pages,
)
from .official import make_official
from .registry import ATTENTION_NAMES

#: Interleaved timing rounds per module, shape and mode.
ROUNDS = 3

#: Targets of eval forward time as multiples of the floor, at the two largest ResNet-50 shapes.
FLOOR_TARGETS: dict[str, float] = {"se": 2, "eca": 2, "cbam": 6, "cbam_channel": 6, "sa": 5, "coord": 5, "ulsam": 10}


@dataclass(frozen=True)
class BenchRow:
    """Timings of one module at one shape in one mode (eval or train)."""

    name: str
    shape: tuple[int, ...]
    mode: str
    ours: LatencyResult
    official: LatencyResult
    floor: LatencyResult
    round_speedups: tuple[float, ...] = ()  # official / ours within each round
    round_floor_ratios: tuple[float, ...] = ()  # ours / floor within each round

    @property
    def ours_over_floor(self) -> float:
        return self.ours.median / self.floor.median

    @property
    def official_over_floor(self) -> float:
        return self.official.median / self.floor.median

    @property
    def speedup(self) -> float:
        """How many times faster ours is than the transcription (> 1 is faster)."""
        return self.official.median / self.ours.median


def official_options(name: str, channels: int) -> dict[str, int]:
    """Options valid at ``channels``: SA's groups shrink to the largest G with C % 2G == 0."""
    if name != "sa":
        return {}
    return {"groups": max(g for g in range(1, 65) if channels % (2 * g) == 0)}


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Random weights and BatchNorm statistics, so equal outputs are not a coincidence of init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
        for key, b in module.named_buffers():
            if key.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return module


def build_pair(name: str, channels: int, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The official transcription with random weights, and our module with the same weights."""
    official = randomize_(make_official(name, channels, **official_options(name, channels)), seed).eval()
    return load_official(name, official.state_dict(), channels), official


def assert_same_outputs(ours: nn.Module, official: nn.Module, shape: Sequence[int]) -> float:
    """Largest difference of ours and official on the paths the benchmark times; raises if above 1e-5.

    Eval mode compares the outputs without autograd. Train mode runs with autograd on, as the
    timed forward + backward pass does, and compares the outputs and the gradients of x for a
    random output gradient. Outputs are compared absolutely; a gradient relative to its scale,
    the larger of 1 and its largest magnitude (CBAM's max branch sends gradients of tens to
    single elements, where float rounding alone exceeds 1e-5).
    """
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen)
    grad_out = torch.randn(*shape, generator=gen)
    ours.eval(), official.eval()
    with torch.no_grad():
        worst = (ours(x) - official(x)).abs().max().item()
    ours.train(), official.train()
    (y_ours, grad_ours), (y_official, grad_official) = (_train_step(m, x, grad_out) for m in (ours, official))
    ours.eval(), official.eval()
    worst = max(worst, (y_ours - y_official).abs().max().item())
    scale = max(1.0, grad_official.abs().max().item())
    worst = max(worst, (grad_ours - grad_official).abs().max().item() / scale)
    if not worst <= 1e-5:
        raise AssertionError(f"{type(ours).__name__} differs from the official code by {worst:.3g} at {tuple(shape)}")
    return worst


def _train_step(module: nn.Module, x: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor]:
    """Output and gradient of x of one forward + backward pass with autograd on."""
    x = x.clone().requires_grad_()
    y = module(x)
    (grad_x,) = torch.autograd.grad(y, x, grad_out)
    return y.detach(), grad_x


def merge_rounds(results: Sequence[LatencyResult]) -> LatencyResult:
    """One result from several rounds: median and IQR over the timed blocks of all of them."""
    if not results:
        raise ValueError("no rounds to merge")
    times = tuple(t for r in results for t in r.times)
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else (times[0],) * 3
    return dataclasses.replace(results[0], median=statistics.median(times), iqr=q3 - q1, runs=len(times), times=times)


def run(
    names: Sequence[str] = ATTENTION_NAMES,
    shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES,
    modes: Sequence[str] = ("eval", "train"),
    *,
    threads: int | None = None,
    min_run_time: float = 0.3,
    rounds: int = ROUNDS,
) -> list[BenchRow]:
    """Check and time every (name, shape, mode); see the module docstring.

    ``min_run_time`` is the timed seconds per measurement in each round.
    """
    threads = torch.get_num_threads() if threads is None else threads
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds={rounds!r} must be a positive int")
    rows = []
    for shape in shapes:
        for name in names:
            ours, official = build_pair(name, shape[1])
            assert_same_outputs(ours, official, shape)
            for mode in modes:
                each_round = []
                for _ in range(rounds):
                    floor = floor_latency(shape, threads=threads, min_run_time=min_run_time, trim=True)
                    timed = [
                        measure_latency(
                            module, shape, mode, threads=threads, min_run_time=min_run_time, trim=True
                        )
                        for module in (official, ours)
                    ]
                    row = BenchRow(name, tuple(shape), mode, timed[1], timed[0], floor)
                    ratios = {"round_speedups": (row.speedup,), "round_floor_ratios": (row.ours_over_floor,)}
                    each_round.append(dataclasses.replace(row, **ratios))
                rows.append(merge_rows(each_round))
    return rows


def rows_to_json(rows: Sequence[BenchRow]) -> str:
    """The rows as JSON, for passing results between processes."""
    return json.dumps([dataclasses.asdict(r) for r in rows])


def rows_from_json(text: str) -> list[BenchRow]:
    def tuples(d: dict) -> dict:
        return {key: tuple(value) if isinstance(value, list) else value for key, value in d.items()}

    def row(d: dict) -> BenchRow:
        results = {key: LatencyResult(**tuples(d[key])) for key in ("ours", "official", "floor")}
        return BenchRow(**{**tuples(d), **results})

    return [row(d) for d in json.loads(text)]


def merge_rows(same: Sequence[BenchRow]) -> BenchRow:
    """One row from rows of the same (name, shape, mode) measured in several rounds or processes:
    their timed blocks pooled and their per-round ratios kept."""
    first = same[0]
    return BenchRow(
        first.name, first.shape, first.mode,
        merge_rounds([r.ours for r in same]), merge_rounds([r.official for r in same]),
        merge_rounds([r.floor for r in same]), tuple(s for r in same for s in r.round_speedups),
        tuple(f for r in same for f in r.round_floor_ratios),
    )


def merge_processes(runs: Sequence[Sequence[BenchRow]]) -> list[BenchRow]:
    """One row per (name, shape, mode) from the same rows measured in several processes."""
    keys = [[(r.name, r.shape, r.mode) for r in rows] for rows in runs]
    if any(k != keys[0] for k in keys):
        raise ValueError("every process must report the same rows, in the same order")
    return [merge_rows(same) for same in zip(*runs)]


def run_in_processes(processes: int, argv: Sequence[str]) -> list[BenchRow]:
    """Run this benchmark's command line ``argv`` in ``processes`` fresh Python processes, one
    after the other, and merge their rows. A process keeps one allocator and memory layout for
    its whole life, and on a shared machine some processes run everything slower: pooling
    several makes a table that no single process's luck decides."""
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for i in range(processes):
            path = Path(folder) / f"rows{i}.json"
            subprocess.run([sys.executable, "-m", "lightattn_ref.bench", *argv, "--json", str(path)], check=True)
            runs.append(rows_from_json(path.read_text()))
    return merge_processes(runs)


def _ms(result: LatencyResult) -> str:
    return f"{result.median_ms:.3g} ± {result.iqr_ms:.2g}"


def to_markdown(rows: Sequence[BenchRow]) -> str:
    """One table line per row; times are medians ± IQR in milliseconds."""
    head = (
        "| module | shape (N, C, H, W) | mode | ours [ms] | official [ms] | floor [ms] | ours / floor "
        "| official / floor | speed-up (official / ours) | speed-up in the rounds |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"| {r.name} | {r.shape} | {r.mode} | {_ms(r.ours)} | {_ms(r.official)} | {_ms(r.floor)} "
        f"| {r.ours_over_floor:.2f} | {r.official_over_floor:.2f} | {r.speedup:.2f} | {_range(r.round_speedups)} |"
        for r in rows
    ]
    return "\n".join([head, *lines])


def _range(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def target_report(rows: Sequence[BenchRow]) -> str:
    """Eval ours / floor at the two largest default shapes against ``FLOOR_TARGETS``.

    The verdict goes by the pooled medians; the range over the rounds, and the number of rounds
    that met the target, show how far the machine's noise could move it.
    """
    largest = {DEFAULT_SHAPES[0], DEFAULT_SHAPES[1]}
    lines = []
    for r in rows:
        if r.mode == "eval" and r.shape in largest:
            target = FLOOR_TARGETS[r.name]
            verdict = "met, in" if r.ours_over_floor <= target else "missed, met in"
            met = sum(ratio <= target for ratio in r.round_floor_ratios)
            lines.append(
                f"- {r.name} {r.shape}: {r.ours_over_floor:.2f} x floor, {_range(r.round_floor_ratios)} in the rounds "
                f"(target <= {target}: {verdict} {met} of {len(r.round_floor_ratios)} rounds)"
            )
    # slower beyond noise: ours lost in every interleaved round, not just by the pooled median
    every_round = [r for r in rows if r.round_speedups and max(r.round_speedups) < 1]
    pooled_only = [r for r in rows if r.speedup < 1 and r not in every_round]
    labels = ("in every round", "by the pooled median only, within the rounds' spread")
    for label, found in zip(labels, (every_round, pooled_only)):
        names = ", ".join(f"{r.name} {r.shape} {r.mode}" for r in found) or "none"
        lines.append(f"- slower than the official code {label}: {names}")
    return "\n".join(lines)


def describe(
    threads: int,
    min_run_time: float,
    retained_memory: bool = False,
    rounds: int = ROUNDS,
    processes: int = 1,
    huge_pages: bool = False,
) -> str:
    allocator = "malloc keeps freed memory" if retained_memory else "system malloc defaults"
    allocator += ", huge pages" if huge_pages else ", no huge pages"
    return (
        f"torch {torch.__version__}, {threads} thread(s), {platform.machine()} CPU, float32, {allocator}, "
        f"median ± IQR of the blocks of blocked_autorange over {min_run_time} s in each of {rounds} interleaved "
        f"rounds in each of {processes} process{'es' if processes != 1 else ''}"
    )


def write_readme(text: str, path: Path = Path("README.md")) -> None:
    """Replace the block between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in ``path``."""
    readme = path.read_text()
    pattern = re.compile(r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", re.S)
    if not pattern.search(readme):
        raise ValueError(f"{path} has no '<!-- bench:start -->' ... '<!-- bench:end -->' block")
    path.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), readme))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--names", nargs="+", default=list(ATTENTION_NAMES), choices=ATTENTION_NAMES)
    parser.add_argument("--shapes", nargs="+", default=None, help="shapes as N,C,H,W (default: cost.DEFAULT_SHAPES)")
    parser.add_argument("--modes", nargs="+", default=["eval", "train"], choices=["eval", "train"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--min-run-time", type=float, default=0.3, help="timed seconds per measurement and round")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds of floor, official, ours")
    parser.add_argument("--processes", type=int, default=1, help="fresh processes to run it in, results pooled")
    parser.add_argument("--readme", action="store_true", help="also write the table into README.md")
    parser.add_argument(
        "--system-malloc",
        action="store_true",
        help="keep the allocator's defaults (see cost.retain_freed_memory and cost.use_huge_pages)",
    )
    parser.add_argument("--json", type=Path, default=None, help=argparse.SUPPRESS)  # one process's rows
    return parser


def _child_argv(args: argparse.Namespace) -> list[str]:
    """The command line of one of ``--processes`` child processes, rebuilt from the parsed options.

    Rebuilt rather than filtered, so that no spelling of ``--processes`` (argparse also accepts
    abbreviations such as ``--proc``) reaches a child, which would start processes of its own.
    The parent pools the rows and writes the README, so ``--readme`` stays with it too.
    """
    argv = ["--names", *args.names, "--modes", *args.modes, "--threads", str(args.threads),
            "--min-run-time", str(args.min_run_time), "--rounds", str(args.rounds)]
    if args.shapes is not None:
        argv += ["--shapes", *args.shapes]
    if args.system_malloc:
        argv.append("--system-malloc")
    return argv


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.processes < 1:
        parser.error(f"--processes={args.processes} must be at least 1")
    retained = not args.system_malloc and retain_freed_memory()
    huge_pages = not args.system_malloc and use_huge_pages()  # before any tensor exists
    if args.processes > 1:
        rows = run_in_processes(args.processes, _child_argv(args))
    else:
        shapes = DEFAULT_SHAPES if args.shapes is None else [tuple(int(v) for v in s.split(",")) for s in args.shapes]
        rows = run(
            args.names, shapes, args.modes, threads=args.threads, min_run_time=args.min_run_time, rounds=args.rounds
        )
    if args.json is not None:
        args.json.write_text(rows_to_json(rows))
        return
    caption = describe(args.threads, args.min_run_time, retained, args.rounds, args.processes, huge_pages)
    text = "\n\n".join([caption, to_markdown(rows), target_report(rows)])
    print(text)
    if args.readme:
        write_readme(text)


if __name__ == "__main__":
    main()
