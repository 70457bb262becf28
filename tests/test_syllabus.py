"""The syllabus quotes notebook run times from the notebooks' own stored execution times."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def load_generator():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("notebook_times", ROOT / "book" / "notebook_times.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebook_times_table_is_current() -> None:
    generator = load_generator()
    assert (ROOT / "book" / "notebook_times.md").read_text() == generator.table(), (
        "book/notebook_times.md is stale: run 'python book/notebook_times.py' (make notebooks does it)"
    )


def test_every_chapter_runs_in_under_a_minute() -> None:
    generator = load_generator()
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert generator.run_seconds(notebook) < 60, f"{notebook.name} took over 60 s in its stored run"


def test_syllabus_includes_the_generated_table_and_every_chapter() -> None:
    syllabus = (ROOT / "book" / "syllabus.md").read_text()
    assert "notebook_times.md" in syllabus
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert notebook.stem in syllabus, f"book/syllabus.md does not mention {notebook.stem}"
