"""The course kit: student notebooks without solutions, and otter autograders that grade the student.

``course/build.py`` turns every chapter with exercises into a student notebook, a solved notebook
and an otter autograder zip. These tests build the kit, then grade three submissions with
``otter run`` for two chapters, as an instructor would: the untouched student notebook scores 0
without crashing, the solved notebook scores full marks, and a submission with one typical wrong
answer loses exactly that question's points.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent

# One typical wrong answer per graded chapter: (question, the wrong code).
WRONG_ANSWERS = {
    "02_se_to_eca": ("psi", "def psi(channels, gamma=2, b=1):\n"
                            "    t = int(abs(math.log2(channels) / gamma))  # forgets b\n"
                            "    return t if t % 2 == 1 else t + 1"),
    "06_coordinate_attention": ("mip_rule", "def mip_rule(channels: int, reduction: int = 32) -> int:\n"
                                            "    return channels // reduction  # no floor of 8"),
}


def load_builder():  # noqa: ANN201
    spec = importlib.util.spec_from_file_location("course_build", ROOT / "course" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


builder = load_builder()
CHAPTERS = builder.chapters_with_exercises()


def points_of(chapter: Path) -> dict[str, float]:
    nb = nbformat.read(chapter, as_version=4)
    return {builder.exercise(c)["name"]: builder.exercise(c)["points"] for c in nb.cells
            if builder.exercise(c).get("part") == "prompt"}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("course")
    builder.main(["--out", str(out)])
    return out


def test_every_chapter_after_the_tour_has_graded_exercises() -> None:
    assert [p.stem[:2] for p in CHAPTERS] == [f"{n:02d}" for n in range(1, 11)]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_the_kit_has_three_files_per_chapter(course: Path, chapter: Path) -> None:
    for kind, suffix in (("student", ".ipynb"), ("solutions", ".ipynb"), ("autograder", ".zip")):
        assert (course / kind / f"{chapter.stem}{suffix}").is_file()
    with zipfile.ZipFile(course / "autograder" / f"{chapter.stem}.zip") as archive:
        tests = sorted(Path(name).stem for name in archive.namelist() if name.startswith("tests/"))
        config = json.loads(archive.read("otter_config.json"))
    assert tests == sorted(points_of(chapter)), "one otter question per exercise"
    assert config["assignment_name"] == chapter.stem


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_student_notebooks_hold_no_solution_code_and_no_outputs(course: Path, chapter: Path) -> None:
    source = nbformat.read(chapter, as_version=4)
    student = nbformat.read(course / "student" / chapter.name, as_version=4)
    parts = builder.exercise_cells(source)
    shared = {line.strip() for cell in source.cells if not builder.exercise(cell) for line in cell.source.splitlines()}
    text = "\n".join(cell.source for cell in student.cells)
    student_lines = {line.strip() for line in text.splitlines()}
    for name, cells in parts.items():
        stub_lines = {line.strip() for line in cells["stub"].source.splitlines()}
        assert cells["stub"].source.strip() in text, f"{name}: the student notebook lost the stub"
        for line in cells["solution"].source.splitlines():
            line = line.strip()
            if line and line not in stub_lines and line not in shared:
                assert line not in student_lines, f"{chapter.stem}: the student notebook contains solution code {line!r}"
    assert builder.SOLUTIONS_HEADING not in text
    assert all(not cell.get("outputs") for cell in student.cells if cell.cell_type == "code")
    assert "import otter" not in text, "the student notebook runs without otter (in Colab, too)"
    for name, cells in parts.items():
        assert cells["check"].source in text, f"{name}: the student notebook lost the reader's check"


def otter_scores(autograder: Path, submission: Path, out: Path) -> dict[str, float]:
    """Grade one submission with ``otter run``, as the syllabus tells instructors to; score per question."""
    out.mkdir()
    subprocess.run([sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder), "-o", str(out),
                    str(submission)], check=True, capture_output=True, text=True, cwd=out)
    results = json.loads((out / "results.json").read_text())
    return {test["name"]: test["score"] for test in results["tests"] if "max_score" in test}


def with_answer(solved: Path, question: str, code: str, target: Path) -> Path:
    """The solved notebook with the answer cell of ``question`` replaced by ``code``."""
    nb = nbformat.read(solved, as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "otter_assign_solution_cell" in c.metadata.get("tags", [])
               and c.source.split("(")[0].split()[-1] == question]
    cell.source = code
    nbformat.write(nb, target)
    return target


@pytest.mark.parametrize("stem", sorted(WRONG_ANSWERS))
def test_otter_grades_the_student(course: Path, stem: str, tmp_path: Path) -> None:
    chapter = ROOT / "notebooks" / f"{stem}.ipynb"
    points = points_of(chapter)
    autograder = course / "autograder" / f"{stem}.zip"
    solved = course / "solutions" / chapter.name

    untouched = otter_scores(autograder, course / "student" / chapter.name, tmp_path / "untouched")
    assert untouched == {name: 0 for name in points}

    full = otter_scores(autograder, solved, tmp_path / "solved")
    assert full == points

    question, code = WRONG_ANSWERS[stem]
    wrong = otter_scores(autograder, with_answer(solved, question, code, tmp_path / chapter.name), tmp_path / "wrong")
    assert wrong == {**points, question: 0}
