"""The bench package is run as ``python -m lightattn_ref.bench`` and imported as ``lightattn_ref.bench``."""

from __future__ import annotations

import importlib


def test_importing_the_entry_point_runs_nothing() -> None:
    # __main__ runs main() only when executed, so tools that import every module stay quiet
    module = importlib.import_module("lightattn_ref.bench.__main__")
    assert module.main is importlib.import_module("lightattn_ref.bench.cli").main
