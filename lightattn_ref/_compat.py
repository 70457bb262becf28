"""The PyTorch APIs whose name or presence depends on the PyTorch release, each behind one function.

The package runs on torch >= 2.1 (``pyproject.toml``). Code elsewhere calls these functions
instead of the APIs, so a rename or a removal in PyTorch is fixed here, once. Each function looks
its API up when it is called, not at import, so it also follows a monkeypatched torch (the tests
delete the APIs to check the fallbacks).
"""

from __future__ import annotations

import torch

try:  # private, but present in every torch this package supports (TorchDispatchMode lives there)
    from torch.utils import _python_dispatch
except ImportError:  # pragma: no cover - a future torch that moves it
    _python_dispatch = None  # type: ignore[assignment]


def is_compiling() -> bool:
    """Whether ``torch.compile`` (Dynamo) or ``torch.export`` is tracing the calling code.

    ``torch.compiler.is_compiling`` is the public API from PyTorch 2.3 on (it is missing from
    the torch.compiler API list of 2.1 and 2.2); earlier releases have
    ``torch._dynamo.is_compiling``. With neither, nothing can be compiling: False.
    """
    check = getattr(getattr(torch, "compiler", None), "is_compiling", None)
    if check is None:
        check = getattr(getattr(torch, "_dynamo", None), "is_compiling", None)
    return bool(check()) if check is not None else False


def is_compiling_for_inductor() -> bool:
    """Whether ``torch.compile`` is tracing the calling code to run it, not ``torch.export`` to save it.

    An exported graph must hold standard operators only (ONNX has no translation for this
    package's own), so code that hands ``torch.compile`` a custom operator asks this rather than
    ``is_compiling``. ``torch.compiler.is_exporting`` is public from PyTorch 2.6 on; without it
    an export cannot be told apart, so this answers False and the textbook operations are traced.
    """
    check = getattr(getattr(torch, "compiler", None), "is_exporting", None)
    return check is not None and is_compiling() and not check()


def has_custom_ops() -> bool:
    """Whether ``torch.library.custom_op`` exists (PyTorch 2.4 on): operators the compiler calls as they are."""
    return hasattr(getattr(torch, "library", None), "custom_op")


def is_in_torch_dispatch_mode() -> bool:
    """Whether a ``TorchDispatchMode`` is active: a FLOP or memory counter, the fake tensors of
    ``torch.export``, a logging mode.

    PyTorch has no public equivalent: ``torch.utils._python_dispatch.is_in_torch_dispatch_mode``
    is private, and only in releases after March 2024 (pytorch/pytorch#122339). Where it is
    missing this returns False, so code that must stay visible to such modes (the ULSAM C kernel
    reads raw memory) has to check more than this.
    """
    check = getattr(_python_dispatch, "is_in_torch_dispatch_mode", None)
    return bool(check()) if check is not None else False


# Private modules with no public path, present in every torch >= 2.1: the hook that
# FlopCounterMode itself is built on, and pytree's flattening. Imported from here so a move in
# PyTorch is fixed once.
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_leaves  # noqa: E402

__all__ = [
    "TorchDispatchMode",
    "has_custom_ops",
    "is_compiling",
    "is_compiling_for_inductor",
    "is_in_torch_dispatch_mode",
    "tree_leaves",
]
