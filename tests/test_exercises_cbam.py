"""The CBAM chapter's exercise checks accept the right answers and reject the typical wrong ones."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightattn_ref.attention import SpatialGate
from lightattn_ref.exercises import check_channel_gate, check_spatial_pool, check_std_spatial_gate
from lightattn_ref.exercises.cbam import _std_gate, _std_maps


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


class StdGateRight(nn.Module):
    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(1)

    def maps(self, x: Tensor) -> Tensor:
        return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True),
                          x.std(dim=1, keepdim=True, correction=0)], dim=1)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.bn(self.conv(self.maps(x))))


class StdGateRightVarMean(nn.Module):
    """Other names, torch.var_mean and a layer inside an nn.Sequential: also correct."""

    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 1, kernel_size, padding=kernel_size // 2, bias=False),
                                  nn.BatchNorm2d(1), nn.Sigmoid())

    def forward(self, x: Tensor) -> Tensor:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
        return self.body(torch.cat([x.max(dim=1, keepdim=True).values, mean, var.sqrt()], dim=1)) * x


class StdGateBias(StdGateRight):
    def __init__(self, kernel_size: int) -> None:
        super().__init__(kernel_size)
        self.conv = nn.Conv2d(3, 1, kernel_size, padding=(kernel_size - 1) // 2)


class StdGateTwoMaps(nn.Module):
    def __init__(self, kernel_size: int) -> None:
        super().__init__()
        self.gate = SpatialGate(spatial_kernel_size=kernel_size)

    def forward(self, x: Tensor) -> Tensor:
        return self.gate(x)


class StdGateNoBN(StdGateRight):
    def __init__(self, kernel_size: int) -> None:
        super().__init__(kernel_size)
        self.bn = nn.Identity()  # type: ignore[assignment]


class StdGateFixedSeven(StdGateRight):
    def __init__(self, kernel_size: int) -> None:
        super().__init__(7)


class StdGateFixedPadding(StdGateRight):
    def __init__(self, kernel_size: int) -> None:
        super().__init__(kernel_size)
        self.conv.padding = (3, 3)


class StdGateMeanFirst(StdGateRight):
    def maps(self, x: Tensor) -> Tensor:
        return torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True),
                          x.std(dim=1, keepdim=True, correction=0)], dim=1)


class StdGateUnbiased(StdGateRight):
    def maps(self, x: Tensor) -> Tensor:
        return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True), x.std(dim=1, keepdim=True)], dim=1)


class StdGateVariance(StdGateRight):
    def maps(self, x: Tensor) -> Tensor:
        return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True),
                          x.var(dim=1, keepdim=True, correction=0)], dim=1)


class StdGateNaNForOneChannel(StdGateRight):
    """Right for C > 1, but 0 / 0 in the std map when C = 1."""

    def maps(self, x: Tensor) -> Tensor:
        c = x.shape[1]
        std = x.std(dim=1, keepdim=True, correction=0) * (c - 1) / torch.tensor(float(c - 1))
        return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True), std], dim=1)


class StdGateReturnsGate(StdGateRight):
    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.bn(self.conv(self.maps(x))))


class StdGateNoSigmoid(StdGateRight):
    def forward(self, x: Tensor) -> Tensor:
        return x * self.bn(self.conv(self.maps(x)))


class StdGateBatchStatistics(StdGateRight):
    def forward(self, x: Tensor) -> Tensor:
        bn = self.bn
        z = F.batch_norm(self.conv(self.maps(x)), None, None, bn.weight, bn.bias, True, 0.0, bn.eps)
        return x * torch.sigmoid(z)


class StdGateInPlace(StdGateRight):
    def forward(self, x: Tensor) -> Tensor:
        return x.mul_(torch.sigmoid(self.bn(self.conv(self.maps(x)))))


def test_std_gate_reference_extends_cbams_spatial_gate(rng: torch.Generator) -> None:
    """With a zero filter on the std map, the check's reference is the package's SpatialGate (eval mode)."""
    for k in (7, 3):
        package = SpatialGate(spatial_kernel_size=k)
        with torch.no_grad():
            package.conv.weight.copy_(torch.randn(package.conv.weight.shape, generator=rng))
            package.bn.weight.fill_(1.3)
            package.bn.bias.fill_(-0.2)
            package.bn.running_mean.fill_(0.1)
            package.bn.running_var.fill_(0.8)
        package.eval()
        conv = nn.Conv2d(3, 1, k, padding=(k - 1) // 2, bias=False)
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight[:, :2].copy_(package.conv.weight)
        x = torch.randn(2, 6, 5, 8, generator=rng)
        with torch.no_grad():
            torch.testing.assert_close(_std_gate(_std_maps(x), conv, package.bn), package.gate(x))
    # the third map adds one k_sp x k_sp filter to CBAM's spatial gate
    ours, cbams = StdGateRight(5).parameters(), SpatialGate(spatial_kernel_size=5).parameters()
    assert sum(p.numel() for p in ours) - sum(p.numel() for p in cbams) == 5 * 5


def test_std_spatial_gate_accepts_right_answers(capsys: pytest.CaptureFixture[str]) -> None:
    check_std_spatial_gate(StdGateRight)
    check_std_spatial_gate(StdGateRightVarMean)
    out = capsys.readouterr().out
    assert out.startswith("Correct:") and out.count("Correct:") == 2


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (StdGateBias, "the convolution has a bias"),
        (StdGateTwoMaps, "that is CBAM's spatial gate"),
        (StdGateNoBN, "the BatchNorm's scale and shift are missing"),
        (StdGateFixedSeven, "that is a 7 x 7 filter"),
        (StdGateFixedPadding, r"turns 5 x 7 maps into 9 x 11: pad it by \(k_sp - 1\) // 2 = 1"),
        (StdGateMeanFirst, r"the maps are in the order \[mean, max, std\]"),
        (StdGateUnbiased, "unbiased standard deviation"),
        (StdGateVariance, "the third map is the variance"),
        (StdGateNaNForOneChannel, "not finite for C = 1"),
        (StdGateReturnsGate, "returns the gate a_sp"),
        (StdGateNoSigmoid, "the sigmoid is missing"),
        (StdGateBatchStatistics, "uses the batch's statistics in eval mode"),
        (StdGateInPlace, "changed its input x in place"),
    ],
    ids=["conv bias", "two maps", "no BatchNorm", "fixed 7x7", "fixed padding", "mean first", "unbiased std",
         "variance", "NaN for C=1", "returns the gate", "no sigmoid", "batch statistics", "in place"],
)
def test_std_spatial_gate_rejects(answer: object, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_std_spatial_gate(answer)  # type: ignore[arg-type]
