"""The benchmark's report: the Markdown table, the targets, the settings line and the README block.

Times are medians ± IQR in milliseconds; ratios are dimensionless and comparable within one run
only, since timings depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Sequence
from pathlib import Path

import torch

from ..cost import DEFAULT_SHAPES, LatencyResult
from .pairs import FLOOR_TARGETS
from .runner import ROUNDS, BenchRow


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
        f"| {r.ours_over_floor:.2f} | {r.official_over_floor:.2f} | {r.speedup:.2f} "
        f"| {_range(r.round_speedups)} |"
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
                f"- {r.name} {r.shape}: {r.ours_over_floor:.2f} x floor, "
                f"{_range(r.round_floor_ratios)} in the rounds "
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
    """The settings every number of the table depends on, in one line (the table's caption).

    ``retained_memory`` and ``huge_pages``: what ``cost.allocator_settings`` put into effect.
    """
    allocator = "malloc keeps freed memory" if retained_memory else "system malloc defaults"
    allocator += ", huge pages" if huge_pages else ", no huge pages"
    return (
        f"torch {torch.__version__}, {threads} thread(s), {platform.machine()} CPU, float32, {allocator}, "
        f"median ± IQR of the blocks of blocked_autorange over {min_run_time} s in each of {rounds} "
        f"interleaved rounds in each of {processes} process{'es' if processes != 1 else ''}"
    )


def write_readme(text: str, path: Path = Path("README.md")) -> None:
    """Replace the block between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in ``path``."""
    readme = path.read_text()
    pattern = re.compile(r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", re.S)
    if not pattern.search(readme):
        raise ValueError(f"{path} has no '<!-- bench:start -->' ... '<!-- bench:end -->' block")
    path.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), readme))
