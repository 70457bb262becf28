"""Argument checks shared by the attention modules, and the one rule for their fast paths.

Every check raises with a message that names the argument and the rule it breaks, so a
user never has to decode a reshape error from deep inside ``forward``. The input checks
are TorchScript-compatible because they run at the top of every ``forward``.

``use_fast_path`` decides, the same way in every module, when a module's ``fast`` switch may
replace its textbook form by an inference fast path (the ``*_fast.py`` files beside each module).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._compat import has_custom_ops, is_compiling, is_compiling_for_inductor


def check_positive_int(name: str, value: object) -> int:
    """Return ``value`` if it is a positive ``int``; raise ``TypeError``/``ValueError`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int; got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name}={value} must be a positive integer")
    return value


def check_reduction(channels: int, reduction: int, *, min_hidden: int = 0) -> int:
    """Check the reduction ratio r of a bottleneck C -> max(min_hidden, C // r) and return it.

    SE and CBAM's channel MLP have C // r hidden units, so r must not exceed C; Coordinate
    Attention keeps at least ``min_hidden`` = 8 (mip = max(8, C // r)), so any positive r works.
    """
    check_positive_int("reduction", reduction)
    if max(min_hidden, channels // reduction) == 0:
        raise ValueError(
            f"reduction={reduction} must not exceed channels={channels} "
            f"(the hidden layer would have channels // reduction = 0 units)"
        )
    return reduction


def check_odd_kernel_size(name: str, kernel_size: int, why: str) -> int:
    """Check that a convolution's kernel size is a positive odd int; ``why`` says what an even one breaks."""
    check_positive_int(name, kernel_size)
    if kernel_size % 2 == 0:
        raise ValueError(f"{name}={kernel_size} must be odd: {why}")
    return kernel_size


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


def use_fast_path(module_fast: bool, training: bool, x: Tensor, cpu_only: bool = False) -> bool:
    """Whether a module may take an eager inference fast path for ``x``; the one rule of every module.

    True only when all of these hold:

    - ``module_fast``: the module's ``fast`` switch is on (False always gives the textbook form);
    - not ``training``: pass ``self.training`` for a path that folds eval-mode BatchNorm (running
      statistics) into a weight, and False for a path that computes the same in either mode;
    - autograd is off (``no_grad`` or ``inference_mode``): the fast paths write in place or into
      views with ``out=``, which autograd refuses, and their backward would be slower anyway;
    - no tracer or compiler is watching: ``torch.jit.trace``, ``torch.compile`` and ``torch.export``
      record the textbook operations and fuse them themselves (``out=`` writes do not trace);
      where the compiled textbook form is slower (ULSAM), ``use_compiled_op`` hands ``torch.compile``
      the fast path as one operator instead;
    - ``cpu_only`` paths (tuned to a CPU's caches, or the ULSAM C kernel) see a CPU tensor.

    Under TorchScript it is False: the scripted module runs the textbook form. TorchScript reads
    ``torch.jit.is_scripting()`` as a constant and compiles no line after its ``return``.
    """
    if torch.jit.is_scripting():
        return False
    if not module_fast or training or torch.is_grad_enabled():
        return False
    if is_compiling() or torch.jit.is_tracing():  # is_compiling first: the compiler reads it as a constant
        return False
    return not cpu_only or x.device.type == "cpu"


def use_compiled_op(module_fast: bool, training: bool) -> bool:
    """Whether a module traced by ``torch.compile`` hands its fast path over as one operator (``ops.py``).

    True only when the ``fast`` switch is on, ``training`` is False (pass ``self.training`` for a
    path that folds eval-mode BatchNorm, else False), autograd is off, and ``torch.compile`` (not
    ``torch.export``) is tracing on a PyTorch with custom operators. Everywhere else the compiler
    traces the textbook form. Dynamo reads each of these as a constant and guards on grad mode.
    """
    if torch.jit.is_scripting():
        return False
    if not module_fast or training or torch.is_grad_enabled():
        return False
    return has_custom_ops() and is_compiling_for_inductor()
