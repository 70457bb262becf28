"""Each chapter's exercises grade the reader: the first check after a stub runs on the reader's code.

A chapter's exercise cells carry ``metadata.exercise`` (see course/build.py). In the committed
notebooks, run top to bottom with the stubs untouched, the check under each stub says "Not
attempted yet" (never "Correct", never a traceback); the solutions come after every check, in
the Solutions section at the end, folded on the website, each followed by its check saying
"Correct".
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS_HEADING = "## Solutions"


def meta(cell: nbformat.NotebookNode) -> dict:
    return cell.get("metadata", {}).get("exercise", {})


def text_of(cell: nbformat.NotebookNode) -> str:
    """Everything a code cell showed: streams and errors (tracebacks) alike."""
    parts = []
    for output in cell.get("outputs", []):
        parts.append(output.get("text", ""))
        if output.get("output_type") == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def defined_names(source: str) -> set[str]:
    return set(re.findall(r"^(?:def|class)\s+(\w+)", source, flags=re.M)) | set(
        re.findall(r"^(\w+)\s*=", source, flags=re.M))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_first_check_after_each_stub_grades_the_readers_code(chapter: Path) -> None:
    cells = nbformat.read(chapter, as_version=4).cells
    stubs = [i for i, c in enumerate(cells) if meta(c).get("part") == "stub"]
    if chapter.stem.startswith("00"):
        assert not stubs, "the quick tour has no exercises"
        return
    assert stubs, f"{chapter.stem} has no graded exercise"
    for i in stubs:
        name = meta(cells[i])["name"]
        assert name in defined_names(cells[i].source), f"{chapter.stem}: the stub of {name!r} does not define it"
        check = next(j for j in range(i + 1, len(cells)) if re.search(r"\bcheck_\w+\(", cells[j].source))
        assert meta(cells[check]) == {"name": name, "part": "check"}, f"{chapter.stem}: {name}'s first check"
        for between in cells[i + 1:check]:
            assert name not in defined_names(between.source), f"{chapter.stem}: {name} is redefined before its check"
        assert text_of(cells[check]) == f"Not attempted yet: write `{name}` above, then run this cell again.\n"


@pytest.mark.parametrize("chapter", CHAPTERS[1:], ids=lambda p: p.stem)
def test_solutions_come_after_every_check_folded_and_passing(chapter: Path) -> None:
    cells = nbformat.read(chapter, as_version=4).cells
    (heading,) = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith(SOLUTIONS_HEADING)]
    checks = [i for i, c in enumerate(cells) if meta(c).get("part") == "check"]
    assert max(checks) < heading
    for i, cell in enumerate(cells):
        part = meta(cell).get("part")
        if part in ("solution-title", "solution", "solution-check"):
            assert i > heading, f"{chapter.stem}: {meta(cell)['name']}'s {part} comes before {SOLUTIONS_HEADING!r}"
        if part == "solution":
            assert "hide-input" in cell.metadata.get("tags", []), "a solution is folded on the website"
            name = meta(cell)["name"]
            assert name in defined_names(cell.source)
            follow = cells[i + 1]
            assert meta(follow) == {"name": name, "part": "solution-check"}
            assert text_of(follow).startswith("Correct:"), f"{chapter.stem}: the solution of {name} fails its check"
    names = [meta(c)["name"] for c in cells if meta(c).get("part") == "prompt"]
    assert names == [meta(c)["name"] for c in cells if meta(c).get("part") == "solution"], "one solution per exercise"
    assert all(isinstance(meta(c).get("points"), int) and meta(c)["points"] > 0
               for c in cells if meta(c).get("part") == "prompt")
