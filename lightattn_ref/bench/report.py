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
from .pairs import FLOOR_TARGETS, TRAIN_FLOOR_TARGET, TRAIN_FLOOR_TARGET_NAMES
from .runner import ROUNDS, BenchRow

#: What the floor of a row is, in the caption and the docstrings.
FLOOR_NOTE = "floor: eval, one copy of x; train, the train floor, train_passes / 2 copies"


def _ms(result: LatencyResult | None, scale: float = 1.0) -> str:
    return "-" if result is None else f"{result.median_ms * scale:.3g} ± {result.iqr_ms * scale:.2g}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def to_markdown(rows: Sequence[BenchRow]) -> str:
    """One table line per row; times are medians ± IQR in milliseconds.

    The floor is the row's mode's (``FLOOR_NOTE``). The eager columns compare ours with the
    official code (speed-up > 1: ours is faster; its range over the rounds). Where any row was
    compiled, four more columns follow ("-" where a row was not): both compiled times, compiled
    ours over the floor, and compiled ours against the faster of ours eager and the official
    code compiled, min(ours, official compiled) / ours compiled (>= 1: compiling ours is worth it).
    """
    compiled = any(r.ours_compiled is not None for r in rows)
    head = ["module", "shape (N, C, H, W)", "mode", "official [ms]", "ours [ms]", "floor [ms]", "ours / floor",
            "speed-up (official / ours)", "speed-up in the rounds"]
    if compiled:
        head += ["official compiled [ms]", "ours compiled [ms]", "ours compiled / floor",
                 "min(ours, official compiled) / ours compiled", "its range in the rounds"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|" + "---:|" * (len(head) - 3)]
    for r in rows:
        cells = [r.name, str(r.shape), r.mode, _ms(r.official), _ms(r.ours), _ms(r.floor, r.floor_copies),
                 f"{r.ours_over_floor:.2f}", f"{r.speedup:.2f}", _range(r.round_speedups)]
        if compiled:
            cells += [_ms(r.official_compiled), _ms(r.ours_compiled), _ratio(r.ours_compiled_over_floor),
                      _ratio(r.compiled_ratio), _range(r.round_compiled_ratios)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compile_times(rows: Sequence[BenchRow]) -> str:
    """Seconds of the first compiled call (tracing and compiling, first round) per row, official and
    ours; "" where no row was compiled."""

    def seconds(result: LatencyResult | None) -> str:
        return "-" if result is None or result.compile_s is None else f"{result.compile_s:.2f}"

    compiled = [r for r in rows if r.ours_compiled is not None or r.official_compiled is not None]
    if not compiled:
        return ""
    head = (
        "| module | shape (N, C, H, W) | mode | official compile [s] | ours compile [s] |\n"
        "|---|---|---|---:|---:|"
    )
    lines = [
        f"| {r.name} | {r.shape} | {r.mode} | {seconds(r.official_compiled)} | {seconds(r.ours_compiled)} |"
        for r in compiled
    ]
    return "\n".join([head, *lines])


def _range(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}" if values else "-"


def _labels(found: Sequence[BenchRow]) -> str:
    return ", ".join(f"{r.name} {r.shape} {r.mode}" for r in found) or "none"


def target_report(rows: Sequence[BenchRow]) -> str:
    """The targets and the slower-than verdicts, one line each.

    Eval ours / floor at the two largest default shapes against ``FLOOR_TARGETS``; eager ours
    against the official code; compiled ours against the faster of ours eager and the official
    code compiled, and against the official code compiled at the two largest shapes; and compiled
    training time in train floors against ``TRAIN_FLOOR_TARGET``. Verdicts go by the pooled
    medians; the range over the rounds, and the rounds that agree, show how far noise could move them.
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
        lines.append(f"- slower than the official code {label}: {_labels(found)}")
    compiled = [r for r in rows if r.compiled_ratio is not None]
    if compiled:
        lines += _compiled_report(compiled, largest)
    return "\n".join(lines)


def _known(value: float | None) -> float:
    """A compiled ratio of a row that has both compiled results (never None there)."""
    assert value is not None, "a row without compiled results reached the compiled report"
    return value


def _every_round(ratios: Sequence[float]) -> bool:
    return bool(ratios) and max(ratios) < 1


def _compiled_report(rows: Sequence[BenchRow], largest: set[tuple[int, ...]]) -> list[str]:
    """The compiled lines of ``target_report``; every row here has both compiled results."""
    every_round = [r for r in rows if _every_round(r.round_compiled_ratios)]
    pooled_only = [r for r in rows if _known(r.compiled_ratio) < 1 and r not in every_round]
    best = "compiled ours slower than min(ours eager, official compiled)"
    lines = [f"- {best} in every round: {_labels(every_round)}",
             f"- {best} by the pooled median only, within the rounds' spread: {_labels(pooled_only)}"]
    slower = [
        f"{r.name} {r.shape} {r.mode} "
        + ("(in every round)" if _every_round(r.round_compiled_speedups) else "(by the pooled median only)")
        for r in rows
        if r.shape in largest and _known(r.compiled_speedup) < 1
    ]
    lines.append(f"- compiled ours slower than compiled official at the two largest shapes: "
                 f"{', '.join(slower) or 'none'}")
    for r in rows:
        if r.mode == "train" and r.shape in largest:
            over = _known(r.ours_compiled_over_floor)
            ratio = f"- {r.name} {r.shape}: ours compiled = {over:.2f} x train floor"
            if r.name in TRAIN_FLOOR_TARGET_NAMES:
                verdict = "met" if over <= TRAIN_FLOOR_TARGET else "missed"
                lines.append(f"{ratio} (target <= {TRAIN_FLOOR_TARGET:g}: {verdict})")
            else:
                lines.append(f"{ratio} (no target, reported)")
    return lines


def describe(
    threads: int,
    min_run_time: float,
    retained_memory: bool = False,
    rounds: int = ROUNDS,
    processes: int = 1,
    huge_pages: bool = False,
    compiled: bool = False,
) -> str:
    """The settings every number of the table depends on, in one line (the table's caption).

    ``retained_memory`` and ``huge_pages``: what ``cost.allocator_settings`` put into effect.
    ``compiled``: whether the run timed the compiled columns (``run(compiled=True)``).
    """
    allocator = "malloc keeps freed memory" if retained_memory else "system malloc defaults"
    allocator += ", huge pages" if huge_pages else ", no huge pages"
    return (
        f"torch {torch.__version__}, {threads} thread(s), {platform.machine()} CPU, float32, {allocator}, "
        f"median ± IQR of the blocks of blocked_autorange over {min_run_time} s in each of {rounds} "
        f"interleaved rounds in each of {processes} process{'es' if processes != 1 else ''}; {FLOOR_NOTE}"
        + ("; torch.compile: Inductor, fullgraph, static shapes; compile time excluded from the times"
           if compiled else "")
    )


def write_readme(text: str, path: Path = Path("README.md")) -> None:
    """Replace the block between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in ``path``."""
    readme = path.read_text()
    pattern = re.compile(r"(<!-- bench:start -->\n).*?(<!-- bench:end -->)", re.S)
    if not pattern.search(readme):
        raise ValueError(f"{path} has no '<!-- bench:start -->' ... '<!-- bench:end -->' block")
    path.write_text(pattern.sub(lambda m: m.group(1) + text + "\n" + m.group(2), readme))
