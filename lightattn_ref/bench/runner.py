"""Running the benchmark: interleaved rounds in one process, pooled rows, several processes.

Each (name, shape, mode) is timed in ``rounds`` interleaved rounds (floor, official, ours, and
with ``compiled`` official and ours under ``torch.compile``), so that a slow spell of a shared
machine hits all of them alike; ``merge_rounds`` pools the timed blocks of all rounds into one
result. ``run_in_processes`` repeats the whole run in fresh Python processes and pools their
rows, passed back as JSON.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ..cost import DEFAULT_SHAPES, LatencyResult, floor_latency, measure_latency, minimal_passes
from ..registry import ATTENTION_NAMES
from .pairs import assert_same_outputs, build_pair

#: Interleaved timing rounds per module, shape and mode.
ROUNDS = 3

_RESULTS = ("ours", "official", "floor")
_COMPILED = ("official_compiled", "ours_compiled")


@dataclass(frozen=True)
class BenchRow:
    """Timings of one module at one shape in one mode (eval or train).

    The floor of a row depends on its mode: eval, one copy of x (``floor``); train, the train
    floor, ``train_passes / 2`` copies of x (``specs.AttentionSpec.train_passes``), the time a
    perfectly fused forward + backward would take. ``*_over_floor`` divide by it. The compiled
    results (``torch.compile``) are None where the run skipped them.
    """

    name: str
    shape: tuple[int, ...]
    mode: str
    ours: LatencyResult
    official: LatencyResult
    floor: LatencyResult
    round_speedups: tuple[float, ...] = ()  # official / ours within each round
    round_floor_ratios: tuple[float, ...] = ()  # ours / floor (the mode's) within each round
    official_compiled: LatencyResult | None = None
    ours_compiled: LatencyResult | None = None
    # min(ours, official compiled) / ours compiled within each round (>= 1: compiled ours is the fastest)
    round_compiled_ratios: tuple[float, ...] = ()
    round_compiled_speedups: tuple[float, ...] = ()  # official compiled / ours compiled within each round

    @property
    def floor_copies(self) -> float:
        """How many copies of x this row's floor stands for (1 in eval, train_passes / 2 in train)."""
        return minimal_passes(self.name, "train") / 2 if self.mode == "train" else 1.0

    @property
    def floor_s(self) -> float:
        """The floor of this row's mode in seconds (see the class docstring)."""
        return self.floor.median * self.floor_copies

    @property
    def floor_ms(self) -> float:
        return self.floor.median_ms * self.floor_copies

    @property
    def ours_over_floor(self) -> float:
        return self.ours.median / self.floor_s

    @property
    def official_over_floor(self) -> float:
        return self.official.median / self.floor_s

    @property
    def ours_compiled_over_floor(self) -> float | None:
        return None if self.ours_compiled is None else self.ours_compiled.median / self.floor_s

    @property
    def speedup(self) -> float:
        """How many times faster ours is than the transcription (> 1 is faster)."""
        return self.official.median / self.ours.median

    @property
    def compiled_ratio(self) -> float | None:
        """The pooled min(ours, official compiled) over ours compiled; at least 1 where compiling ours
        is at least as fast as the faster of the two other ways to run the module."""
        if self.ours_compiled is None or self.official_compiled is None:
            return None
        return min(self.ours.median, self.official_compiled.median) / self.ours_compiled.median

    @property
    def compiled_speedup(self) -> float | None:
        """How many times faster compiled ours is than the compiled official code (pooled medians)."""
        if self.ours_compiled is None or self.official_compiled is None:
            return None
        return self.official_compiled.median / self.ours_compiled.median


def merge_rounds(results: Sequence[LatencyResult]) -> LatencyResult:
    """One result from several rounds: median and IQR over the timed blocks of all of them.
    The first round's ``compile_s`` is kept: later rounds reuse the compiled code."""
    if not results:
        raise ValueError("no rounds to merge")
    times = tuple(t for r in results for t in r.times)
    q1, _, q3 = statistics.quantiles(times, n=4, method="inclusive") if len(times) > 1 else (times[0],) * 3
    median = statistics.median(times)
    return dataclasses.replace(results[0], median=median, iqr=q3 - q1, runs=len(times), times=times)


def run(
    names: Sequence[str] = ATTENTION_NAMES,
    shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES,
    modes: Sequence[str] = ("eval", "train"),
    *,
    threads: int | None = None,
    min_run_time: float = 0.3,
    rounds: int = ROUNDS,
    compiled: bool = True,
) -> list[BenchRow]:
    """Check and time every (name, shape, mode); see the package docstring.

    ``min_run_time`` is the timed seconds per measurement in each round. The allocator is left
    as the caller set it: the command line times inside ``cost.allocator_settings``.

    ``compiled``: also time official and ours under ``torch.compile`` in every round. Before the
    first round of each (name, shape, mode) this calls ``torch.compiler.reset()``, so that the
    compile time kept (the first round's; later rounds reuse the code) is a cold compile of the
    pair rather than a cache hit. That resets the whole process's compile caches, which suits a
    benchmark run as a command; it is not a step for a library call inside other work.
    A throwaway compile first loads the compiler, so that the first pair does not pay for it.
    Inductor's on-disk caches outlive the reset (a second run on the same machine compiles
    faster; point ``TORCHINDUCTOR_CACHE_DIR`` at an empty folder for cold ones): compile times
    are indicative, not exact.
    """
    threads = torch.get_num_threads() if threads is None else threads
    if not (isinstance(rounds, int) and rounds >= 1):
        raise ValueError(f"rounds={rounds!r} must be a positive int")
    if compiled:
        _load_compiler()
    rows = []
    for shape in shapes:
        for name in names:
            ours, official = build_pair(name, shape[1])
            assert_same_outputs(ours, official, shape)
            for mode in modes:
                if compiled:
                    torch.compiler.reset()  # a cold compile per pair and mode; see the docstring
                timing = {"threads": threads, "min_run_time": min_run_time}
                each_round = [
                    _round(name, tuple(shape), mode, ours, official, compiled, timing) for _ in range(rounds)
                ]
                rows.append(merge_rows(each_round))
    return rows


def _load_compiler() -> None:
    """Compile and run a one-line function, so that loading Inductor counts in no pair's compile time."""
    torch.compile(lambda t: t * 2 + 1, fullgraph=True, dynamic=False)(torch.ones(4))


def _round(
    name: str,
    shape: tuple[int, ...],
    mode: str,
    ours: torch.nn.Module,
    official: torch.nn.Module,
    compiled: bool,
    timing: dict,
) -> BenchRow:
    """One interleaved round: floor, official, ours, then (``compiled``) official and ours compiled."""
    floor = floor_latency(shape, trim=True, **timing)
    eager = [measure_latency(m, shape, mode, trim=True, **timing) for m in (official, ours)]
    row = BenchRow(name, shape, mode, eager[1], eager[0], floor)
    row = dataclasses.replace(row, round_speedups=(row.speedup,), round_floor_ratios=(row.ours_over_floor,))
    if not compiled:
        return row
    both = [measure_latency(m, shape, mode, trim=True, compiled=True, **timing) for m in (official, ours)]
    row = dataclasses.replace(row, official_compiled=both[0], ours_compiled=both[1])
    ratio, speedup = row.compiled_ratio, row.compiled_speedup
    assert ratio is not None and speedup is not None  # both compiled results are set
    return dataclasses.replace(row, round_compiled_ratios=(ratio,), round_compiled_speedups=(speedup,))


def rows_to_json(rows: Sequence[BenchRow]) -> str:
    """The rows as JSON, for passing results between processes."""
    return json.dumps([dataclasses.asdict(r) for r in rows])


def rows_from_json(text: str) -> list[BenchRow]:
    """The rows that ``rows_to_json`` wrote (lists back to tuples, results back to ``LatencyResult``,
    absent or null compiled results to None)."""

    def tuples(d: dict) -> dict:
        return {key: tuple(value) if isinstance(value, list) else value for key, value in d.items()}

    def row(d: dict) -> BenchRow:
        results = {key: LatencyResult(**tuples(d[key])) for key in _RESULTS}
        results |= {key: None if d.get(key) is None else LatencyResult(**tuples(d[key])) for key in _COMPILED}
        return BenchRow(**{**tuples(d), **results})

    return [row(d) for d in json.loads(text)]


def _merge_optional(results: Sequence[LatencyResult | None]) -> LatencyResult | None:
    """Pooled results, or None unless every row holds one."""
    present = [r for r in results if r is not None]
    return merge_rounds(present) if present and len(present) == len(results) else None


def merge_rows(same: Sequence[BenchRow]) -> BenchRow:
    """One row from rows of the same (name, shape, mode) measured in several rounds or processes:
    their timed blocks pooled and their per-round ratios kept. Compiled results stay only where
    every row has them; the first row's compile time is kept."""
    first = same[0]

    def rounds(field: str) -> tuple[float, ...]:
        return tuple(v for r in same for v in getattr(r, field))

    return BenchRow(
        first.name, first.shape, first.mode,
        merge_rounds([r.ours for r in same]), merge_rounds([r.official for r in same]),
        merge_rounds([r.floor for r in same]), rounds("round_speedups"), rounds("round_floor_ratios"),
        _merge_optional([r.official_compiled for r in same]),
        _merge_optional([r.ours_compiled for r in same]),
        rounds("round_compiled_ratios"), rounds("round_compiled_speedups"),
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
            command = [sys.executable, "-m", "lightattn_ref.bench", *argv, "--json", str(path)]
            subprocess.run(command, check=True)
            runs.append(rows_from_json(path.read_text()))
    return merge_processes(runs)
