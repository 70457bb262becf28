"""Write book/notebook_times.md: how long each chapter notebook took in its last stored run.

The times come from the execution timestamps that nbclient stores in every executed cell
(first cell started to last cell finished), so the syllabus never quotes a typed number.
`make notebooks` runs this after re-executing the notebooks; a test checks it is current.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "book" / "notebook_times.md"


def _stamp(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def run_seconds(notebook: Path) -> float:
    """Seconds from the first executed cell's start to the last one's reply."""
    cells = json.loads(notebook.read_text())["cells"]
    spans = [c["metadata"]["execution"] for c in cells if "execution" in c.get("metadata", {})]
    if not spans:
        raise ValueError(f"{notebook.name} has no stored execution times: run 'make notebooks'")
    start = min(_stamp(s["iopub.status.busy"]) for s in spans)
    end = max(_stamp(s["shell.execute_reply"]) for s in spans)
    return (end - start).total_seconds()


def table() -> str:
    """A markdown table: chapter, stored run time (s, rounded up), and a running total (min)."""
    lines = ["| notebook | run time [s] | running total [min] |", "|---|---:|---:|"]
    total = 0.0
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        seconds = run_seconds(notebook)
        total += seconds
        lines.append(f"| {{doc}}`../notebooks/{notebook.stem}` | {math.ceil(seconds)} | {total / 60:.1f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    OUTPUT.write_text(table())
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
