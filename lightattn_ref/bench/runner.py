"""Running the benchmark: interleaved rounds in one process, pooled rows, several processes.

Each (name, shape, mode) is timed in ``rounds`` interleaved rounds (floor, official, ours,
floor, ...), so that a slow spell of a shared machine hits all three alike; ``merge_rounds``
pools the timed blocks of all rounds into one result. ``run_in_processes`` repeats the whole
run in fresh Python processes and pools their rows, passed back as JSON.
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

from ..cost import DEFAULT_SHAPES, LatencyResult, floor_latency, measure_latency
from ..registry import ATTENTION_NAMES
from .pairs import assert_same_outputs, build_pair

#: Interleaved timing rounds per module, shape and mode.
ROUNDS = 3


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


def merge_rounds(results: Sequence[LatencyResult]) -> LatencyResult:
    """One result from several rounds: median and IQR over the timed blocks of all of them."""
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
) -> list[BenchRow]:
    """Check and time every (name, shape, mode); see the package docstring.

    ``min_run_time`` is the timed seconds per measurement in each round. The allocator is left
    as the caller set it: the command line times inside ``cost.allocator_settings``.
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
    """The rows that ``rows_to_json`` wrote (lists back to tuples, results back to ``LatencyResult``)."""

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
            command = [sys.executable, "-m", "lightattn_ref.bench", *argv, "--json", str(path)]
            subprocess.run(command, check=True)
            runs.append(rows_from_json(path.read_text()))
    return merge_processes(runs)
