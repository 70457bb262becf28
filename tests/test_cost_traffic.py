"""Minimal passes and memory traffic: passes * numel(x) * itemsize, from the module's structure,
for an eval forward and for a training forward + backward."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from lightattn_ref.cost import MINIMAL_PASSES, MINIMAL_TRAIN_PASSES, memory_traffic, minimal_passes
from lightattn_ref.registry import ATTENTION_NAMES, make_attention


def test_memory_traffic_is_passes_times_bytes_of_x() -> None:
    shape = (2, 16, 4, 4)
    numel = math.prod(shape)
    assert memory_traffic("se", shape) == 3 * numel * 4
    assert memory_traffic("cbam", shape) == 4 * numel * 4
    assert memory_traffic("se", shape, torch.float16) == 3 * numel * 2
    assert memory_traffic("ulsam", shape, torch.float64) == 3 * numel * 8


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_memory_traffic_is_positive_and_linear_in_batch(name: str) -> None:
    one = memory_traffic(name, (1, 128, 8, 8))
    assert one > 0
    assert memory_traffic(name, (8, 128, 8, 8)) == 8 * one
    assert memory_traffic(make_attention(name, 128), (1, 128, 8, 8)) == one  # a module reads the same table


def test_sa_conv_variant_makes_sas_passes() -> None:
    assert minimal_passes(make_attention("sa_conv", 128)) == minimal_passes("sa") == 3


def test_every_registry_name_has_a_reasoned_pass_count() -> None:
    assert set(MINIMAL_PASSES) == set(ATTENTION_NAMES)
    for name, (passes, reason) in MINIMAL_PASSES.items():
        assert passes >= 3, name  # at least: read to pool, read + write to gate
        assert "read" in reason and "write" in reason, name
    assert minimal_passes("cbam") == 4 and minimal_passes("coord") == 3


def test_memory_traffic_rejects_unknown_names_modules_shapes_and_dtypes() -> None:
    with pytest.raises(ValueError, match="name_or_module"):
        memory_traffic("resnet", (1, 8, 2, 2))
    with pytest.raises(ValueError, match="name_or_module"):
        memory_traffic(nn.Conv2d(8, 8, 1), (1, 8, 2, 2))
    with pytest.raises(ValueError, match="shape"):
        memory_traffic("se", (1, 0, 2, 2))
    with pytest.raises(ValueError, match="dtype"):
        memory_traffic("se", (1, 8, 2, 2), dtype="float32")  # type: ignore[arg-type]


#: Minimal passes of one training forward + backward, as the book derives them (chapter 07).
TRAIN_PASSES = {"se": 7, "eca": 7, "cbam": 10, "cbam_channel": 7, "sa": 7.5, "ulsam": 10, "coord": 7}


def test_every_name_has_a_reasoned_train_pass_count_above_its_eval_count() -> None:
    assert set(MINIMAL_TRAIN_PASSES) == set(ATTENTION_NAMES)
    for name, (passes, reason) in MINIMAL_TRAIN_PASSES.items():
        assert passes == TRAIN_PASSES[name], name
        assert passes > MINIMAL_PASSES[name][0], name  # the backward reads grad_y and writes grad_x
        assert "grad_y" in reason and "read" in reason and "write" in reason, name
        assert minimal_passes(name, "train") == passes and minimal_passes(name, mode="eval") == MINIMAL_PASSES[name][0]
    assert minimal_passes(make_attention("sa_conv", 128), "train") == 7.5


def test_train_memory_traffic_rounds_half_passes_to_bytes() -> None:
    shape = (1, 3, 1, 1)  # 3 elements: SA's 7.5 passes move 7.5 * 3 bytes at one byte each
    assert memory_traffic("sa", shape, torch.uint8, mode="train") == round(7.5 * 3) == 22
    assert memory_traffic("se", (2, 16, 4, 4), mode="train") == 7 * 2 * 16 * 4 * 4 * 4
    assert isinstance(memory_traffic("sa", (2, 16, 4, 4), mode="train"), int)


def test_a_mode_other_than_eval_or_train_is_refused() -> None:
    with pytest.raises(ValueError, match="mode='training' must be one of eval, train"):
        minimal_passes("se", "training")
    with pytest.raises(ValueError, match="mode='copy'"):
        memory_traffic("se", (1, 8, 2, 2), mode="copy")
