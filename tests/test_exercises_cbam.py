"""The CBAM chapter's exercise checks accept the right answers and reject the typical wrong ones."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.exercises import check_channel_gate, check_spatial_pool


def gate_right(x: Tensor, mlp: nn.Module) -> Tensor:
    return torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))[:, :, None, None]


def gate_right_stacked(x: Tensor, mlp: nn.Module) -> Tensor:
    """Both pooled vectors in one batch through the MLP: also correct."""
    n = x.shape[0]
    out = mlp(torch.cat([x.mean(dim=(2, 3)), x.flatten(2).max(dim=2).values]))
    return torch.sigmoid(out[:n] + out[n:]).view(n, -1, 1, 1)


def gate_avg_only(x: Tensor, mlp: nn.Module) -> Tensor:
    return torch.sigmoid(mlp(x.mean(dim=(2, 3))))[:, :, None, None]


def gate_separate_mlps(x: Tensor, mlp: nn.Module) -> Tensor:
    other = copy.deepcopy(mlp)
    torch.manual_seed(0)
    for layer in other:
        if isinstance(layer, nn.Linear):
            layer.reset_parameters()
    return torch.sigmoid(mlp(x.mean(dim=(2, 3))) + other(x.amax(dim=(2, 3))))[:, :, None, None]


def gate_sigmoid_before_sum(x: Tensor, mlp: nn.Module) -> Tensor:
    s = torch.sigmoid(mlp(x.mean(dim=(2, 3)))) + torch.sigmoid(mlp(x.amax(dim=(2, 3))))
    return s[:, :, None, None]


def gate_sum_before_mlp(x: Tensor, mlp: nn.Module) -> Tensor:
    return torch.sigmoid(mlp(x.mean(dim=(2, 3)) + x.amax(dim=(2, 3))))[:, :, None, None]


def gate_no_trailing_axes(x: Tensor, mlp: nn.Module) -> Tensor:
    return torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.amax(dim=(2, 3))))


def gate_max_over_h_only(x: Tensor, mlp: nn.Module) -> Tensor:
    mx = x.amax(dim=2).mean(dim=2)  # pools H by max but W by mean
    return torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(mx))[:, :, None, None]


def test_channel_gate_accepts_right_answers(capsys: pytest.CaptureFixture[str]) -> None:
    check_channel_gate(gate_right)
    check_channel_gate(gate_right_stacked)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (gate_avg_only, "only the average-pooled vector, which is SE's gate"),
        (gate_separate_mlps, "never went through the MLP you were given"),
        (gate_sigmoid_before_sum, "sigmoid is applied to each branch before the sum"),
        (gate_sum_before_mlp, "added before the MLP"),
        (gate_no_trailing_axes, r"instead of \[2, 32, 1, 1\]"),
        (gate_max_over_h_only, "not the global max"),
    ],
    ids=["avg-only", "separate MLPs", "sigmoid before sum", "sum before MLP", "missing axes",
         "max over H only"],
)
def test_channel_gate_rejects(answer: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_channel_gate(answer)  # type: ignore[arg-type]


def pool_right(x: Tensor) -> Tensor:
    return torch.cat([x.max(dim=1, keepdim=True)[0], x.mean(dim=1, keepdim=True)], dim=1)


def pool_mean_first(x: Tensor) -> Tensor:
    return torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)


def pool_wrong_axis(x: Tensor) -> Tensor:
    return torch.cat([x.amax(dim=2, keepdim=True), x.mean(dim=2, keepdim=True)], dim=1)


def pool_spatial_axes(x: Tensor) -> Tensor:
    return torch.cat([x.amax(dim=(2, 3), keepdim=True), x.mean(dim=(2, 3), keepdim=True)], dim=1)


def pool_sum(x: Tensor) -> Tensor:
    return torch.cat([x.amax(dim=1, keepdim=True), x.sum(dim=1, keepdim=True)], dim=1)


def pool_in_place(x: Tensor) -> Tensor:
    x.relu_()
    return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)


def pool_max_tuple(x: Tensor) -> Tensor:
    return torch.cat([torch.max(x, 1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)  # type: ignore[list-item]


def test_spatial_pool_accepts_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    check_spatial_pool(pool_right)
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (pool_mean_first, r"order \[mean, max\]"),
        (pool_wrong_axis, "pool over the channel axis"),
        (pool_spatial_axes, "pool over the channel axis"),
        (pool_sum, "sum over channels"),
        (pool_in_place, "changed its input x in place"),
        (pool_max_tuple, "raised TypeError"),
    ],
    ids=["mean first", "pooling over H", "pooling over H and W", "sum not mean", "in place", "max tuple"],
)
def test_spatial_pool_rejects(answer: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_spatial_pool(answer)  # type: ignore[arg-type]
