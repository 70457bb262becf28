"""Helpers shared by the repository checks: the one repository setting, notebooks, install cell.

The repository URL and branch live in ``_config.yml`` (``repository.url``,
``repository.branch``). Everything that points at the repository (the launch buttons, the
Colab install cell of every notebook, the README) must derive from them.
"""

from __future__ import annotations

import ast
import json
import shlex
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG = REPO_ROOT / "_config.yml"
TOC = REPO_ROOT / "_toc.yml"
NOTEBOOKS = REPO_ROOT / "notebooks"
PACKAGE = "lightattn-ref"
INSTALL_TAGS = ("remove-cell", "nbval-skip")
# Options that may stand next to the requirement in the install cell's `%pip install`.
PIP_FLAGS = {"-q", "-qq", "-qqq", "--quiet", "-U", "--upgrade", "--no-cache-dir"}


def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    assert isinstance(data, dict), f"{path.name}: expected a YAML mapping at the top level"
    return data


def repository_settings() -> tuple[str, str]:
    """``(url, branch)`` from ``_config.yml``; the one place they are set."""
    repo = load_yaml(CONFIG).get("repository") or {}
    url, branch = repo.get("url"), repo.get("branch")
    assert isinstance(url, str) and url, "_config.yml: repository.url is not set"
    assert isinstance(branch, str) and branch, "_config.yml: repository.branch is not set"
    return url, branch


def install_spec(url: str, branch: str) -> str:
    """The requirement every notebook's install cell installs (pip's direct-URL form)."""
    return f"{PACKAGE} @ git+{url}@{branch}"


def notebook_paths() -> list[Path]:
    """Every notebook under notebooks/, checkpoints excluded, sorted."""
    return sorted(
        p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts
    )


def rel(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


def read_notebook(path: Path) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def cell_source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _is_colab_guard(test: ast.expr) -> bool:
    """True for exactly ``"google.colab" in sys.modules``."""
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Constant)
        and test.left.value == "google.colab"
        and len(test.ops) == 1
        and isinstance(test.ops[0], ast.In)
        and len(test.comparators) == 1
        and isinstance(test.comparators[0], ast.Attribute)
        and test.comparators[0].attr == "modules"
        and isinstance(test.comparators[0].value, ast.Name)
        and test.comparators[0].value.id == "sys"
    )


def _magic(node: ast.stmt) -> tuple[str, str] | None:
    """``("pip", "install ...")`` for a statement ``%pip install ...``; None otherwise."""
    if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)):
        return None
    call = node.value
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in ("run_line_magic", "system")):
        return None
    args = [a.value for a in call.args if isinstance(a, ast.Constant)]
    if func.attr == "system":  # `!pip install ...`
        return ("!", args[0] if args else "")
    return (args[0], args[1]) if len(args) == 2 else None


def install_cell_requirement(cell: dict, where: str) -> str:
    """Check that ``cell`` is the hidden Colab install cell and return what it installs.

    The cell must be a code cell tagged ``remove-cell`` and ``nbval-skip`` whose only effect
    outside Colab is ``import sys``: one ``if "google.colab" in sys.modules:`` block holding one
    ``%pip install [flags] "<requirement>"``. ``where`` names the notebook in messages.
    """
    from IPython.core.inputtransformer2 import TransformerManager

    assert cell.get("cell_type") == "code", (
        f"{where}: the first cell must be the hidden Colab install cell (a code cell), "
        f"found a {cell.get('cell_type')} cell"
    )
    tags = cell.get("metadata", {}).get("tags", [])
    missing = [t for t in INSTALL_TAGS if t not in tags]
    assert not missing, f"{where}: the install cell lacks the tag(s) {missing} (has {tags})"

    source = cell_source(cell)
    code = TransformerManager().transform_cell(source)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise AssertionError(f"{where}: the install cell is not valid Python: {exc}") from None
    guards = [n for n in tree.body if isinstance(n, ast.If) and _is_colab_guard(n.test)]
    assert len(guards) == 1, (
        f'{where}: the install cell needs exactly one `if "google.colab" in sys.modules:` '
        f"block; its source is:\n{source}"
    )
    for node in tree.body:
        allowed = node is guards[0] or (
            isinstance(node, ast.Import) and [a.name for a in node.names] == ["sys"]
        )
        assert allowed, (
            f"{where}: outside Colab the install cell may only `import sys`; it also runs "
            f"line {node.lineno}: {ast.get_source_segment(code, node)!r}"
        )
    guard = guards[0]
    assert not guard.orelse, f"{where}: the Colab guard of the install cell has an else branch"
    magics = [_magic(n) for n in guard.body]
    assert len(magics) == 1 and magics[0] is not None and magics[0][0] == "pip", (
        f'{where}: the `if "google.colab" in sys.modules:` block must hold exactly one '
        f"`%pip install ...` line (use the %pip magic, not !pip); its source is:\n{source}"
    )
    words = shlex.split(magics[0][1])
    assert words and words[0] == "install", (
        f"{where}: expected `%pip install`, got `%pip {magics[0][1]}`"
    )
    flags = [w for w in words[1:] if w.startswith("-")]
    requirements = [w for w in words[1:] if not w.startswith("-")]
    bad_flags = sorted(set(flags) - PIP_FLAGS)
    assert not bad_flags, f"{where}: unexpected pip option(s) {bad_flags} in the install cell"
    assert len(requirements) == 1, (
        f"{where}: the install cell must install exactly one requirement, the package; "
        f"it installs {requirements}"
    )
    return requirements[0]


def _toc_entries(toc: dict, keys: tuple[str, ...]) -> list[str]:
    """Every string value under one of ``keys`` anywhere in a ``_toc.yml`` tree, in order."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            found.extend(node[key] for key in keys if isinstance(node.get(key), str))
            for value in node.values():
                if isinstance(value, (list, dict)):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return found


def toc_files(toc: dict) -> list[str]:
    """Every ``root`` / ``file`` entry of a ``_toc.yml`` (jb-book or jb-article), in order."""
    return _toc_entries(toc, ("root", "file"))


def toc_globs(toc: dict) -> list[str]:
    """Every ``glob`` entry of a ``_toc.yml``, in order."""
    return _toc_entries(toc, ("glob",))
