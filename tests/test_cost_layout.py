"""The cost and bench packages stay small files with one concern each, and keep their public names."""

from __future__ import annotations

from pathlib import Path

import pytest

import lightattn_ref.bench
import lightattn_ref.cost

MAX_LINES = 300
PACKAGES = [Path(lightattn_ref.cost.__file__).parent, Path(lightattn_ref.bench.__file__).parent]
FILES = sorted(path for package in PACKAGES for path in package.glob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_file_of_the_cost_or_bench_package_is_over_300_lines(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_LINES, f"{path.parent.name}/{path.name} has {lines} lines; split it by concern"


def test_every_file_opens_with_a_docstring() -> None:
    import ast

    for path in FILES:
        assert ast.get_docstring(ast.parse(path.read_text())), f"{path.name} has no module docstring"


#: Every public name of the single-file cost module this package replaced, less the two
#: process-wide functions that ``allocator_settings`` replaced.
FORMER_COST_NAMES = [
    "COLUMNS", "DEFAULT_SHAPES", "MINIMAL_PASSES", "CostRow", "CostTable", "LatencyResult",
    "convert_units", "cost_table", "count_flops", "count_parameters", "floor_latency",
    "format_published", "measure_latency", "memory_traffic", "minimal_passes", "peak_memory",
    "trim_heap",
]
BENCH_NAMES = [  # used by the chapters (07) and the tests
    "ATTENTION_NAMES", "FLOOR_TARGETS", "ROUNDS", "BenchRow", "assert_same_outputs", "build_pair",
    "describe", "main", "merge_processes", "merge_rounds", "merge_rows", "official_options",
    "randomize_", "rows_from_json", "rows_to_json", "run", "run_in_processes", "target_report",
    "to_markdown", "write_readme",
]


def test_public_names_are_still_reached_through_the_package() -> None:
    for name in FORMER_COST_NAMES + ["allocator_settings", "AllocatorSettings"]:
        assert hasattr(lightattn_ref.cost, name) and name in lightattn_ref.cost.__all__, name
    for name in BENCH_NAMES:
        assert hasattr(lightattn_ref.bench, name) and name in lightattn_ref.bench.__all__, name
    assert callable(lightattn_ref.bench.run)  # the function, not a submodule of that name
    for gone in ("retain_freed_memory", "use_huge_pages"):  # process-wide, replaced by allocator_settings
        assert not hasattr(lightattn_ref.cost, gone)
