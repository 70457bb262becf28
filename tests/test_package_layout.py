"""Every file of the package stays small and says what it is for (one concern per file)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import lightattn_ref

ROOT = Path(lightattn_ref.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))
#: "about 300 lines": a file may run a little over while it holds one concern
MAX_LINES = 330


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_package_file_is_small_and_has_a_docstring(path: Path) -> None:
    text = path.read_text()
    lines = len(text.splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by concern"
    if path.name != "__main__.py":
        assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no module docstring"
