"""Exact counts: trainable parameters and the FLOPs that ``torch.utils.flop_counter`` sees.

Both are properties of the module and the input shape, not of the machine, so they reproduce
exactly. FLOPs follow the book's convention (chapter 07, eq. ``eq-cost-flops``): one
multiply-accumulate (MAC) is 2 FLOPs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.utils.flop_counter import FlopCounterMode

from ._checks import check_shape, random_input


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters (``requires_grad``) of ``module``; buffers are not counted.

    A parameter shared by two submodules is counted once.
    """
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def count_flops(module: nn.Module, x: Tensor | Sequence[int]) -> int:
    """FLOPs of one forward pass ``module(x)`` as counted by ``torch.utils.flop_counter``.

    Args:
        module: any module; it runs in eval mode (its train/eval flags are restored afterwards),
            under ``torch.no_grad``, so BatchNorm statistics are not updated.
        x: the input tensor, or its shape (then a float32 standard-normal tensor is made).

    Returns:
        FLOPs as an int, with 1 multiply-accumulate = 2 FLOPs (so FLOPs = 2 * MACs).

    What it counts: only the matrix-multiply and convolution family (mm, addmm, bmm, conv, ...),
    2 * MACs each; the bias addition of ``nn.Linear``/``nn.Conv2d`` is not counted.
    What it does NOT count (invisible, reported as 0): pooling (average, max, adaptive),
    normalisation (BatchNorm, GroupNorm), activations (ReLU, sigmoid, h-swish), softmax,
    element-wise gating ``a * x`` and additions, reshapes and copies. For these modules that is
    most of the work, e.g. Shuffle Attention counts 0 FLOPs. Use ``memory_traffic`` and
    ``measure_latency`` for their real cost.
    """
    if not isinstance(x, Tensor):
        x = random_input(check_shape(x, "x"), torch.float32)
    counter = FlopCounterMode(display=False)
    with _temporary_mode(module, training=False), torch.no_grad(), counter:
        module(x)
    return int(counter.get_total_flops())


class _temporary_mode:
    """Context manager: put ``module`` in train or eval mode, then restore every submodule's flag."""

    def __init__(self, module: nn.Module, *, training: bool) -> None:
        self.module, self.training = module, training
        self.flags: list[tuple[nn.Module, bool]] = []

    def __enter__(self) -> nn.Module:
        self.flags = [(m, m.training) for m in self.module.modules()]
        return self.module.train(self.training)

    def __exit__(self, *exc: object) -> None:
        for m, flag in self.flags:
            m.training = flag
