"""The cost table on tiny shapes: every module, every column, and the rows it cannot build or run."""

from __future__ import annotations

import pytest

from lightattn_ref.cost import (
    COLUMNS,
    DEFAULT_SHAPES,
    CostTable,
    cost_table,
    count_parameters,
    memory_traffic,
)
from lightattn_ref.registry import ATTENTION_NAMES, make_attention

FAST = {"threads": 1, "min_run_time": 0.01}


def test_default_shapes_are_resnet50_stages_and_a_mobilenet_map() -> None:
    assert DEFAULT_SHAPES[:4] == ((8, 256, 56, 56), (8, 512, 28, 28), (8, 1024, 14, 14), (8, 2048, 7, 7))
    assert DEFAULT_SHAPES[4] == (8, 96, 28, 28)


def test_cost_table_on_tiny_shapes_covers_every_module() -> None:
    shapes = [(2, 128, 6, 6), (2, 96, 4, 4)]
    table = cost_table(shapes=shapes, **FAST)
    assert isinstance(table, CostTable) and table.threads == 1 and table.mode == "eval"
    assert len(table) == len(ATTENTION_NAMES) * len(shapes)
    assert [(row.name, row.shape) for row in table] == [(n, s) for s in shapes for n in ATTENTION_NAMES]
    for row in table:
        module = make_attention(row.name, row.shape[1], **row.options)
        assert row.params == count_parameters(module)
        assert row.traffic == memory_traffic(row.name, row.shape)
        assert row.latency is not None and row.latency.threads == 1 and row.latency.median > 0
        assert row.floor.mode == "copy" and row.floor_ratio == row.latency.median / row.floor.median
    sa_96 = next(row for row in table if row.name == "sa" and row.shape[1] == 96)
    assert sa_96.options == {"groups": 48} and "groups=48" in sa_96.note and sa_96.flops == 0
    sa_128 = next(row for row in table if row.name == "sa" and row.shape[1] == 128)
    assert sa_128.options == {} and sa_128.params == 3 * 128 // 64

    markdown = table.to_markdown().splitlines()
    assert markdown[0] == "| " + " | ".join(COLUMNS) + " |"
    assert "[MB]" in markdown[0] and "[ms]" in markdown[0] and "FLOPs" in markdown[0]
    assert len(markdown) == 2 + len(table)
    for line, row in zip(markdown[2:], table):
        assert line.startswith(f"| {row.name} | ({', '.join(map(str, row.shape))}) |")
        assert line.count("|") == len(COLUMNS) + 1
    assert "1 thread" in table.caption()


def test_cost_table_marks_rows_it_cannot_build_or_run() -> None:
    # ULSAM's 4 subspaces cannot split 6 channels; training-mode BN cannot run on N*H*W = 1
    unbuilt = cost_table(["ulsam"], shapes=[(1, 6, 4, 4)], **FAST)[0]
    assert unbuilt.latency is None and unbuilt.params is None and unbuilt.note.startswith("not built")
    unrun = cost_table(["cbam"], shapes=[(1, 32, 1, 1)], mode="train", **FAST)[0]
    assert unrun.latency is None and unrun.params == count_parameters(make_attention("cbam", 32))
    assert "BatchNorm" in unrun.note
    line = CostTable((unbuilt, unrun), "train", 1, 0.01).to_markdown().splitlines()[2]
    assert "| - |" in line


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"names": ["se", "nope"]}, "names"),
        ({"shapes": [(2, 8, 4)]}, "shapes"),
        ({"shapes": [(2, 0, 4, 4)]}, "shapes"),
        ({"mode": "inference"}, "mode"),
        ({"threads": -1}, "threads"),
        ({"min_run_time": float("inf")}, "min_run_time"),
    ],
)
def test_cost_table_rejects_bad_arguments(kwargs: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        cost_table(**kwargs)
