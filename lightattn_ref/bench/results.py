"""Saved benchmark runs: the JSON file that ``--save`` writes, and the runs the package ships.

The book cannot time twenty-eight compiled modules while a reader waits, so the appendix on
making the modules fast reads the table of one full run of the command line instead, shipped
in ``lightattn_ref/bench/results/`` (package data, so Colab has it too). The CPU run there is
written by the command that also writes the README's table::

    python -m lightattn_ref.bench --processes 2 --readme --save lightattn_ref/bench/results/cpu.json

A file holds the settings line (``caption``), the day of the run (UTC), the processor, the
torch version and the rows; ``load_results`` gives them back as a ``SavedRun``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from .runner import BenchRow, rows_from_json, rows_to_json

#: The folder of the runs shipped with the package.
RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class SavedRun:
    """One saved run of the benchmark."""

    caption: str  # the settings line every number depends on
    date: str  # the day of the run, ISO format, UTC
    machine: str  # the processor (or GPU) it ran on
    torch: str  # torch.__version__
    rows: list[BenchRow]


def processor_name() -> str:
    """The CPU's model name where Linux reports it (``/proc/cpuinfo``), else ``platform``'s guess."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def save_results(path: Path, caption: str, rows: Sequence[BenchRow]) -> None:
    """Write the run to ``path`` as JSON (see the module docstring).

    Each result keeps its median, IQR and counts but not the time of every timed block
    (``LatencyResult.times``, for pooling runs), which would make the file a hundred times larger.
    """
    rows = [_without_block_times(r) for r in rows]
    saved = {
        "caption": caption,
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "machine": processor_name(),
        "torch": torch.__version__,
        "rows": json.loads(rows_to_json(rows)),
    }
    Path(path).write_text(json.dumps(saved, indent=1) + "\n")


def _without_block_times(row: BenchRow) -> BenchRow:
    fields = ("ours", "official", "floor", "official_compiled", "ours_compiled")
    slim = {f: dataclasses.replace(getattr(row, f), times=()) for f in fields if getattr(row, f) is not None}
    return dataclasses.replace(row, **slim)


def load_results(name_or_path: str | Path = "cpu") -> SavedRun:
    """A saved run: a name of the shipped runs (``"cpu"``) or the path of a file ``--save`` wrote."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = RESULTS / f"{name_or_path}.json"
    if not path.is_file():
        shipped = sorted(p.stem for p in RESULTS.glob("*.json"))
        raise ValueError(f"name_or_path={str(name_or_path)!r}: no such run; shipped runs: {shipped}")
    saved = json.loads(path.read_text())
    rows = rows_from_json(json.dumps(saved["rows"]))
    return SavedRun(saved["caption"], saved["date"], saved["machine"], saved["torch"], rows)
