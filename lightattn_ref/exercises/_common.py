"""What the chapters' checks share: calling the reader's answer and comparing tensors."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

ATOL, RTOL = 1e-5, 1e-4


def call_answer(fn: Callable[..., object], *args: object) -> object:
    """Call the reader's function without autograd; turn any failure into a one-sentence AssertionError."""
    try:
        with torch.no_grad():
            return fn(*args)
    except NotImplementedError:
        raise AssertionError(
            "the function still raises NotImplementedError: replace its body with your code."
        ) from None
    except Exception as error:  # noqa: BLE001 - any failure of the reader's code is reported
        message = str(error).splitlines()[0] if str(error) else ""
        hint = ""
        if "view size is not compatible" in message:
            hint = " (a transposed tensor is not contiguous: use reshape, which copies when it must, instead of view)"
        raise AssertionError(f"the function raised {type(error).__name__}: {message}{hint}.") from None


def close(a: Tensor, b: Tensor, *, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """Same shape and equal values within the tolerance (by default the checks' common one)."""
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=rtol))
