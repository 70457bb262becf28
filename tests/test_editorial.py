"""The book's editorial rules, checked on the sources so they cannot drift.

- The core chapters (00-09) teach the mechanisms; allocator, page and kernel material lives in the
  appendix chapter on making the modules fast.
- Every figure has a numbered caption and a name the text can reference; colormaps are
  perceptually uniform (no jet, rainbow or hsv).
- Code cells fit the page without horizontal scrolling.
- The seed posts are cited, the errata rows carry evidence and a source, and the licences are stated.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
CORE = [p for p in NOTEBOOKS if int(p.stem[:2]) <= 9]
APPENDIX = ROOT / "notebooks" / "10_making_them_fast.ipynb"
MAX_CODE_LINE = 88
SYSTEMS_WORDS = re.compile(
    r"malloc|mallopt|huge[ _-]?pages?|page[ _-]?faults?|allocator|\bTHP\b|trim_heap|"
    r"retain_freed_memory|madvise|jemalloc|tcmalloc",
    re.IGNORECASE,
)
BAD_COLORMAPS = re.compile(r"""["'](jet|rainbow|hsv|gist_rainbow|nipy_spectral)["']|cm\.(jet|rainbow|hsv)\b""")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def has_figure(cell: dict) -> bool:
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def test_the_appendix_exists_and_is_in_the_table_of_contents() -> None:
    assert APPENDIX.exists()
    assert "notebooks/10_making_them_fast" in (ROOT / "_toc.yml").read_text()


@pytest.mark.parametrize("chapter", CORE, ids=lambda p: p.stem)
def test_core_chapters_leave_systems_detail_to_the_appendix(chapter: Path) -> None:
    for index, cell in enumerate(cells(chapter)):
        found = SYSTEMS_WORDS.search(source(cell))
        assert found is None, (
            f"{chapter.name} cell {index} mentions {found.group(0)!r}: "
            "allocator and kernel material belongs in 10_making_them_fast"
        )


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_figure_has_a_numbered_caption(chapter: Path) -> None:
    for index, cell in enumerate(cells(chapter)):
        if cell["cell_type"] != "code" or not has_figure(cell):
            continue
        figure = cell["metadata"].get("mystnb", {}).get("figure", {})
        assert figure.get("caption") and figure.get("name", "").startswith("fig-"), (
            f"{chapter.name} cell {index} draws a figure without mystnb.figure caption and name"
        )


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.stem)
def test_a_figure_cell_shows_only_its_figure(chapter: Path) -> None:
    """myst-nb wraps every display output of a figure cell in the named figure: a stray repr
    (a Legend returned by the last line) would make a second target with the same name."""
    for index, cell in enumerate(cells(chapter)):
        if "figure" in cell["metadata"].get("mystnb", {}):
            kinds = [out["output_type"] for out in cell.get("outputs", [])]
            assert kinds.count("display_data") == 1 and "execute_result" not in kinds, (
                f"{chapter.name} cell {index}: a figure cell should display one figure, got {kinds}"
            )


def test_figure_names_are_unique_across_the_book() -> None:
    names = [
        cell["metadata"]["mystnb"]["figure"]["name"]
        for chapter in NOTEBOOKS
        for cell in cells(chapter)
        if "figure" in cell["metadata"].get("mystnb", {})
    ]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.stem)
def test_colormaps_are_perceptually_uniform(chapter: Path) -> None:
    for index, cell in enumerate(cells(chapter)):
        if cell["cell_type"] == "code":
            found = BAD_COLORMAPS.search(source(cell))
            assert found is None, f"{chapter.name} cell {index} uses {found.group(0)}"


@pytest.mark.parametrize("chapter", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(chapter: Path) -> None:
    for index, cell in enumerate(cells(chapter)):
        if cell["cell_type"] != "code" or "remove-cell" in cell["metadata"].get("tags", []):
            continue  # a removed cell (the Colab install cell) is not on the page
        for line in source(cell).splitlines():
            assert len(line) <= MAX_CODE_LINE, (
                f"{chapter.name} cell {index} has a {len(line)}-character line: {line[:60]}..."
            )


def test_the_seed_posts_are_cited_and_defined_once() -> None:
    bib = (ROOT / "book" / "references.bib").read_text()
    for key in ("seed_sa", "seed_eca", "seed_ulsam", "seed_coord", "seed_cbam"):
        entry = re.search(r"@misc\{" + key + r",(.*?)\n\}", bib, re.S)
        assert entry, f"references.bib has no @misc entry {key}"
        assert "title" in entry.group(1) and "howpublished" in entry.group(1)
    assert "**the seed posts**" in (ROOT / "book" / "intro.md").read_text()


def test_every_errata_row_has_evidence_and_a_source() -> None:
    rows = [
        line
        for line in (ROOT / "book" / "errata.md").read_text().splitlines()
        if line.startswith("|") and not line.startswith("|---") and "evidence" not in line
    ]
    assert rows
    for row in rows:
        assert "{doc}" in row, f"errata row without a chapter that computes the evidence: {row[:80]}"
        assert "{cite}" in row, f"errata row without a source: {row[:80]}"


def test_the_licences_are_stated() -> None:
    licence = (ROOT / "LICENSE").read_text()
    assert "MIT License" in licence and "CC BY 4.0" in licence
    assert "CC BY 4.0" in (ROOT / "README.md").read_text()
    assert "CC BY 4.0" in (ROOT / "_config.yml").read_text()
