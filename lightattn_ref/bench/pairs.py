"""Pairs to compare: the official transcription with random weights, and our module with the same.

``official_options`` and ``FLOOR_TARGETS`` come from the table in ``lightattn_ref.specs``: the
options valid at a channel count, and the target of eval forward time in floors;
``TRAIN_FLOOR_TARGET`` is the target of compiled training time in train floors.
``assert_same_outputs`` refuses to time a pair whose outputs or input gradients differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from ..convert import load_official
from ..official import make_official
from ..specs import SPECS, spec

#: Targets of eval forward time as multiples of the floor, at the two largest ResNet-50 shapes.
FLOOR_TARGETS: dict[str, float] = {
    name: entry.floor_target for name, entry in SPECS.items() if entry.floor_target is not None
}


#: Target of compiled training forward + backward time in train floors (``BenchRow.floor_s``), at
#: the two largest ResNet-50 shapes, for the names in ``TRAIN_FLOOR_TARGET_NAMES``. The other names
#: of ``ATTENTION_NAMES`` (cbam, ulsam) have no target; their ratio is reported.
TRAIN_FLOOR_TARGET = 3.0
TRAIN_FLOOR_TARGET_NAMES: frozenset[str] = frozenset({"se", "eca", "cbam_channel", "sa", "coord"})


def official_options(name: str, channels: int) -> dict[str, Any]:
    """Options valid at ``channels``: the entry's fallback where the defaults are invalid (SA's
    groups shrink to the largest G with C % 2G == 0), else none."""
    fallback = spec(name).fallback(channels)
    return {} if fallback is None else fallback[0]


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Random weights and BatchNorm statistics, so equal outputs are not a coincidence of init."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.rand(p.shape, generator=gen) - 0.5)
        for key, b in module.named_buffers():
            if key.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return module


def build_pair(name: str, channels: int, seed: int = 0) -> tuple[nn.Module, nn.Module]:
    """The official transcription with random weights, and our module with the same weights."""
    official = randomize_(make_official(name, channels, **official_options(name, channels)), seed).eval()
    return load_official(name, official.state_dict(), channels), official


def assert_same_outputs(ours: nn.Module, official: nn.Module, shape: Sequence[int]) -> float:
    """Largest difference of ours and official on the paths the benchmark times; raises if above 1e-5.

    Eval mode compares the outputs without autograd. Train mode runs with autograd on, as the
    timed forward + backward pass does, and compares the outputs and the gradients of x for a
    random output gradient. Outputs are compared absolutely; a gradient relative to its scale,
    the larger of 1 and its largest magnitude (CBAM's max branch sends gradients of tens to
    single elements, where float rounding alone exceeds 1e-5).
    """
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen)
    grad_out = torch.randn(*shape, generator=gen)
    ours.eval(), official.eval()
    with torch.no_grad():
        worst = (ours(x) - official(x)).abs().max().item()
    ours.train(), official.train()
    (y_ours, grad_ours), (y_official, grad_official) = (_train_step(m, x, grad_out) for m in (ours, official))
    ours.eval(), official.eval()
    worst = max(worst, (y_ours - y_official).abs().max().item())
    scale = max(1.0, grad_official.abs().max().item())
    worst = max(worst, (grad_ours - grad_official).abs().max().item() / scale)
    if not worst <= 1e-5:
        raise AssertionError(
            f"{type(ours).__name__} differs from the official code by {worst:.3g} at {tuple(shape)}"
        )
    return worst


def _train_step(module: nn.Module, x: Tensor, grad_out: Tensor) -> tuple[Tensor, Tensor]:
    """Output and gradient of x of one forward + backward pass with autograd on."""
    x = x.clone().requires_grad_()
    y = module(x)
    (grad_x,) = torch.autograd.grad(y, x, grad_out)
    return y.detach(), grad_x
