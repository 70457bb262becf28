"""Build the course kit from the chapter notebooks: student notebooks, solved notebooks, otter autograders.

The chapters stay the single source. Each exercise's cells carry ``metadata.exercise`` =
``{"name": NAME, "part": PART}``: in the Exercises section a ``prompt`` (markdown, with the
question's ``points``), a ``stub`` and a ``check``; in the Solutions section at the end of the
chapter a ``solution-title``, a ``solution`` and a ``solution-check`` (its stored output is the
"Correct: ..." line). This script writes, for every chapter with exercises, an otter-grader
master notebook in which each exercise is one question:

    prompt, then the stub as otter's PROMPT, the solution as its SOLUTION, and the
    solution-check with its stored output as its TEST (an OK-format doctest: an untouched stub
    prints "Not attempted yet" and a wrong answer raises, so both fail; the solution passes).

The reader's own check cell stays under the stub (the student notebook needs no otter, so it runs
in Colab like the chapter) and the Solutions section is dropped. ``otter assign`` then writes the student notebook (no solution code), the solved
notebook and the autograder zip, which this script collects under ``_build/course``:

    student/NN_topic.ipynb   solutions/NN_topic.ipynb   autograder/NN_topic.zip

Usage: ``python course/build.py [--out DIR] [notebooks/NN_topic.ipynb ...]`` (all chapters by default).
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS_HEADING = "## Solutions"
QUESTION_PARTS = ("prompt", "stub", "check")
SOLUTION_PARTS = ("solution-title", "solution", "solution-check")


def exercise(cell: nbformat.NotebookNode) -> dict:
    """The cell's exercise metadata (empty for cells that belong to no exercise)."""
    return cell.get("metadata", {}).get("exercise", {})


def raw(text: str) -> nbformat.NotebookNode:
    return nbformat.v4.new_raw_cell(text)


def exercise_names(nb: nbformat.NotebookNode) -> list[str]:
    """The chapter's exercises in order, each named after the function or class the reader writes."""
    return [exercise(cell)["name"] for cell in nb.cells if exercise(cell).get("part") == "prompt"]


def exercise_cells(nb: nbformat.NotebookNode) -> dict[str, dict[str, nbformat.NotebookNode]]:
    """For each exercise, its six cells by part; raise if one is missing or doubled."""
    found: dict[str, dict[str, nbformat.NotebookNode]] = {}
    for cell in nb.cells:
        meta = exercise(cell)
        if meta:
            parts = found.setdefault(meta["name"], {})
            if meta["part"] in parts:
                raise ValueError(f"exercise {meta['name']!r} has two {meta['part']!r} cells")
            parts[meta["part"]] = cell
    for name, parts in found.items():
        missing = set(QUESTION_PARTS + SOLUTION_PARTS) - set(parts)
        if missing:
            raise ValueError(f"exercise {name!r} has no {', '.join(sorted(missing))} cell")
        if "points" not in exercise(parts["prompt"]):
            raise ValueError(f"exercise {name!r}: its prompt cell names no points")
        if not any("Correct:" in output.get("text", "") for output in parts["solution-check"].get("outputs", [])):
            raise ValueError(f"exercise {name!r}: its solution-check has no stored 'Correct:' output; run the notebook")
    return found


def course_requirements() -> list[str]:
    """What a grading machine (Gradescope) installs: the package from the book's repository, with its extras."""
    repository = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]
    return [f"lightattn-ref[book] @ git+{repository['url']}@{repository['branch']}"]


def master_notebook(chapter: Path, requirements: Path) -> nbformat.NotebookNode:
    """The otter-assign master notebook of one chapter (see the module docstring)."""
    nb = nbformat.read(chapter, as_version=4)
    parts = exercise_cells(nb)
    config = {
        "name": chapter.stem,
        "requirements": str(requirements),
        "python_version": "3.11",
        "init_cell": False,  # no otter in the student's notebook: it runs in Colab as the chapter does
        "export_cell": False,
        "check_all_cell": False,
        "show_question_points": True,
        "generate": {"pdf": False, "show_stdout": True},
    }
    cells = [raw("# ASSIGNMENT CONFIG\n" + yaml.safe_dump(config, sort_keys=False))]
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.startswith(SOLUTIONS_HEADING):
            break  # the Solutions section is the last one; the answers go into the questions instead
        meta = exercise(cell)
        part = meta.get("part")
        if part == "prompt":
            points = meta["points"]
            cells += [raw(f"# BEGIN QUESTION\nname: {meta['name']}\npoints: {points}\ncheck_cell: false"),
                      strip_outputs(cell)]
        elif part == "stub":
            question = parts[meta["name"]]
            cells += [raw("# BEGIN SOLUTION"), answer_cell(question["solution"], cell), raw("# END SOLUTION"),
                      raw("# BEGIN TESTS"), copy.deepcopy(question["solution-check"]), raw("# END TESTS")]
        elif part == "check":  # the reader's check stays: the same check_* the autograder's test calls
            cells += [raw("# END QUESTION"), strip_outputs(cell)]
        elif part:
            raise ValueError(f"{chapter.name}: a {part!r} cell of {meta['name']!r} comes before {SOLUTIONS_HEADING!r}")
        else:
            cells.append(copy.deepcopy(cell))
    nb.cells = cells
    return nb


def strip_outputs(cell: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of a cell without its outputs and its exercise metadata."""
    cell = copy.deepcopy(cell)
    cell.metadata.pop("exercise", None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def answer_cell(solution: nbformat.NotebookNode, stub: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """One code cell that holds the solution for the solved notebook and the stub for the student's.

    Otter removes the ``SOLUTION NO PROMPT`` block from the student's copy and unwraps the
    ``PROMPT`` block there, so the student sees the chapter's stub and no line of the solution.
    """
    if '"""' in stub.source:
        raise ValueError("a stub must not contain triple double quotes: otter wraps it in them")
    cell = strip_outputs(stub)
    cell.source = (f"# BEGIN SOLUTION NO PROMPT\n{solution.source.rstrip()}\n# END SOLUTION\n"
                   f'""" # BEGIN PROMPT\n{stub.source.rstrip()}\n""" # END PROMPT')
    return cell


def solved_notebook(path: Path) -> nbformat.NotebookNode:
    """Otter's solved notebook with each answer cell reduced to the solution (no markers, no stub)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        begin, end = "# BEGIN SOLUTION NO PROMPT\n", "\n# END SOLUTION"
        if cell.cell_type == "code" and cell.source.startswith(begin):
            cell.source = cell.source[len(begin):cell.source.index(end)]
    return nb


def build_chapter(chapter: Path, out: Path) -> None:
    """Run otter assign on the chapter's master notebook; collect its three products under ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        requirements = work / "requirements.txt"
        requirements.write_text("\n".join(course_requirements()) + "\n")
        master = work / chapter.name
        nbformat.write(master_notebook(chapter, requirements), master)
        # --no-run-tests: the chapter's own run (nbval) already shows every solution passing its check
        subprocess.run([sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs", str(master),
                        str(work / "dist")], check=True, cwd=work)
        dist = work / "dist"
        for kind in ("student", "solutions", "autograder"):
            (out / kind).mkdir(parents=True, exist_ok=True)
        shutil.copy(dist / "student" / chapter.name, out / "student" / chapter.name)
        nbformat.write(solved_notebook(dist / "autograder" / chapter.name), out / "solutions" / chapter.name)
        (zipfile,) = (dist / "autograder").glob("*.zip")
        shutil.copy(zipfile, out / "autograder" / f"{chapter.stem}.zip")


def chapters_with_exercises() -> list[Path]:
    return [p for p in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
            if exercise_names(nbformat.read(p, as_version=4))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", type=Path, help="chapter notebooks (default: every chapter with exercises)")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "course", help="output folder")
    args = parser.parse_args(argv)
    chapters = args.chapters or chapters_with_exercises()
    if args.out.exists():
        shutil.rmtree(args.out)
    for chapter in chapters:
        build_chapter(chapter.resolve(), args.out)
        print(f"{chapter.stem}: {', '.join(exercise_names(nbformat.read(chapter, as_version=4)))}")


if __name__ == "__main__":
    main()
