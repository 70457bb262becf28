"""Parameter and FLOP counts on modules whose costs are known exactly from their shapes."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from lightattn_ref import eca_kernel_size
from lightattn_ref.cost import count_flops, count_parameters
from lightattn_ref.registry import make_attention


def test_count_parameters_is_exact_and_skips_frozen_parameters() -> None:
    conv = nn.Conv2d(3, 4, kernel_size=3)
    assert count_parameters(conv) == 4 * 3 * 3 * 3 + 4
    linear = nn.Linear(7, 5)
    assert count_parameters(linear) == 7 * 5 + 5
    linear.bias.requires_grad_(False)
    assert count_parameters(linear) == 7 * 5
    assert count_parameters(nn.BatchNorm2d(6)) == 12  # weight and bias; running stats are buffers


def test_count_flops_of_linear_and_conv_is_two_per_mac() -> None:
    n, d_in, d_out = 3, 7, 5
    assert count_flops(nn.Linear(d_in, d_out), torch.randn(n, d_in)) == 2 * n * d_in * d_out
    # Conv2d(3 -> 4, 3x3, padding 1) on (2, 3, 8, 8): one MAC per output element per weight of its filter
    macs = (2 * 4 * 8 * 8) * (3 * 3 * 3)
    assert count_flops(nn.Conv2d(3, 4, 3, padding=1), torch.randn(2, 3, 8, 8)) == 2 * macs
    # grouped convolution: each output sees C_in / groups input channels; a shape works as input
    macs = (2 * 8 * 6 * 6) * ((4 // 2) * 3 * 3)
    assert count_flops(nn.Conv2d(4, 8, 3, padding=1, groups=2), (2, 4, 6, 6)) == 2 * macs


class _PoolGate(nn.Module):
    """x * sigmoid(GAP(x)) followed by a max-pool, softmax and GroupNorm: real work, no matmul."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(2, 4)

    def forward(self, x: Tensor) -> Tensor:
        y = x * torch.sigmoid(nn.functional.adaptive_avg_pool2d(x, 1))
        y = nn.functional.max_pool2d(y, 3, 1, 1)
        return self.norm(torch.softmax(y.flatten(2), -1).view_as(y))


def test_count_flops_cannot_see_pooling_norms_softmax_or_gating() -> None:
    x = torch.randn(2, 4, 8, 8)
    assert count_flops(_PoolGate(), x) == 0
    assert count_flops(nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Sigmoid()), x) == 0
    assert count_flops(make_attention("sa", 128), torch.randn(1, 128, 4, 4)) == 0  # documented: SA shows 0
    # ... while ECA's 1-D convolution over the C pooled values is counted: 2 * N * C * k
    k = eca_kernel_size(128)
    assert count_flops(make_attention("eca", 128), torch.randn(2, 128, 4, 4)) == 2 * 2 * 128 * k


def test_count_flops_restores_modes_and_does_not_update_batchnorm() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)).train()
    model[0].eval()  # a mixed state must come back exactly
    before = model[1].running_mean.clone()
    count_flops(model, torch.randn(4, 2, 3, 3) + 5.0)
    assert model.training and not model[0].training and model[1].training
    assert torch.equal(model[1].running_mean, before)
