"""The benchmark checks outputs and gradients of each pair before it times them."""

from __future__ import annotations

import pytest
import torch

from lightattn_ref import bench


def test_bench_refuses_a_module_that_differs_from_the_official_code() -> None:
    ours, official = bench.build_pair("eca", 64)
    with torch.no_grad():
        ours.conv.weight.add_(1e-3)
    with pytest.raises(AssertionError, match="differs from the official code"):
        bench.assert_same_outputs(ours, official, (2, 64, 4, 4))


def test_bench_checks_the_training_gradient_it_times() -> None:
    """A backward pass that differs while the forward pass agrees is caught in train mode."""

    class WrongBackward(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):  # noqa: ANN001, ANN205
            return x.clone()

        @staticmethod
        def backward(ctx, grad):  # noqa: ANN001, ANN205
            return 1.001 * grad

    ours, official = bench.build_pair("se", 64)
    forward = ours.forward
    ours.forward = lambda x: WrongBackward.apply(forward(x))
    with pytest.raises(AssertionError, match="differs from the official code"):
        bench.assert_same_outputs(ours, official, (2, 64, 4, 4))


def test_bench_pairs_agree_for_every_module() -> None:
    for name in bench.ATTENTION_NAMES:
        ours, official = bench.build_pair(name, 96)  # SA falls back to groups=48
        assert bench.assert_same_outputs(ours, official, (2, 96, 5, 7)) <= 1e-5


def test_official_options_and_floor_targets_cover_every_module() -> None:
    assert set(bench.FLOOR_TARGETS) == set(bench.ATTENTION_NAMES)
    assert bench.official_options("sa", 96) == {"groups": 48} and bench.official_options("se", 96) == {}


def test_train_floor_target_names_are_book_names_and_the_rest_are_reported() -> None:
    assert bench.TRAIN_FLOOR_TARGET == 3.0
    assert bench.TRAIN_FLOOR_TARGET_NAMES <= set(bench.ATTENTION_NAMES)
    assert set(bench.ATTENTION_NAMES) - bench.TRAIN_FLOOR_TARGET_NAMES == {"cbam", "ulsam"}
