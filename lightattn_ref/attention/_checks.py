"""Argument checks shared by the attention modules.

Every check raises with a message that names the argument and the rule it breaks, so a
user never has to decode a reshape error from deep inside ``forward``. The input checks
are TorchScript-compatible because they run at the top of every ``forward``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is a positive ``int``; raise ``TypeError``/``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name}={value} must be a positive integer")
    return value


def check_reduction(channels: int, reduction: int) -> int:
    """Check the reduction ratio r of a bottleneck C -> C // r and return it."""
    check_positive_int("reduction", reduction)
    if reduction > channels:
        raise ValueError(
            f"reduction={reduction} must not exceed channels={channels} "
            f"(the hidden layer would have channels // reduction = 0 units)"
        )
    return reduction


def check_input(x: Tensor, channels: int) -> None:
    """Check that ``x`` is a floating-point (N, C, H, W) tensor with C == ``channels`` and H, W > 0.

    An empty batch (N = 0) is accepted, as PyTorch's own layers accept it (a detection head with
    no boxes, an uneven last batch); an empty map (H = 0 or W = 0) has nothing to pool.
    """
    if x.dim() != 4:
        raise ValueError(f"x must be a 4-D tensor (N, C, H, W); got {x.dim()}-D shape {list(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor; got dtype {x.dtype}")
    if x.shape[1] != channels:
        raise ValueError(
            f"x has {x.shape[1]} channels (shape {list(x.shape)}) "
            f"but the module was built for channels={channels}"
        )
    if x.shape[2] == 0 or x.shape[3] == 0:
        raise ValueError(f"x must have a non-empty map (H, W > 0); got shape {list(x.shape)}")


def check_batchnorm_values(training: bool, values_per_channel: int, where: str, shape: list[int]) -> None:
    """Refuse training-mode BatchNorm on a single value per channel (its variance is undefined).

    PyTorch would fail later with "Expected more than 1 value per channel when training";
    this message says which BatchNorm, why, and what to do instead.
    """
    if training and values_per_channel == 1:  # 0 values (an empty batch) passes, as in PyTorch
        raise ValueError(
            f"{where} in training mode needs more than one value per channel, but x of shape "
            f"{shape} gives {values_per_channel}; use a larger batch or spatial size, or call .eval()"
        )


def eager_inference(training: bool) -> bool:
    """Whether a module may take its eager inference fast path: eval mode, no autograd, and
    no compiler watching. The fast paths write into views with ``out=``, which torch.compile
    cannot trace; compiled code takes the textbook form and lets the compiler fuse it."""
    if training or torch.is_grad_enabled():
        return False
    if torch.jit.is_scripting():
        return True
    return not torch.compiler.is_compiling()
