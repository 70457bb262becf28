"""``check_scale``: the scale step y = a ⊙ x, with the gate broadcast over H and W."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._common import answer_error, as_tensor, reader_check


# (N, C, H, W) shapes for check_scale. The first is the trap: with N = 1 and C == W, ``x * a`` for a
# gate a of shape (N, C) runs without an error and scales the width axis instead of the channels.
_SCALE_SHAPES: tuple[tuple[int, int, int, int], ...] = ((1, 6, 6, 6), (2, 3, 5, 4), (3, 8, 2, 7), (1, 4, 3, 1))


def _is_broadcast_error(error: Exception) -> bool:
    """PyTorch's error for two shapes that do not broadcast (e.g. (N, C) against (N, C, H, W))."""
    return isinstance(error, RuntimeError) and ("must match the size" in str(error) or "broadcast" in str(error))


@reader_check
def check_scale(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's scale step ``fn(x, a) -> y``, eq. anatomy-scale: y = a ⊙ x.

    Args:
        fn: takes x of shape (N, C, H, W) and a channel gate a of shape (N, C) and returns
            y of shape (N, C, H, W) with y[n, c, i, j] = a[n, c] * x[n, c, i, j]. It must not
            modify x or a.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: a gate that lines up with (H, W) instead of (N, C) (an error, or a
    silent scaling of the width axis when N = 1 and C = W), an in-place multiplication, the
    gate returned without the product, or a wrong shape.
    """
    for seed, (n, c, h, w) in enumerate(_SCALE_SHAPES):
        gen = torch.Generator().manual_seed(100 + seed)
        x = torch.randn(n, c, h, w, generator=gen)
        a = torch.sigmoid(torch.randn(n, c, generator=gen))
        x_in, a_in = x.clone(), a.clone()
        shapes = f"x of shape {(n, c, h, w)} and a of shape {(n, c)}"
        try:
            with torch.no_grad():
                y = fn(x_in, a_in)
        except Exception as error:  # noqa: BLE001 - any failure of the reader's code is reported
            if _is_broadcast_error(error):
                raise AssertionError(
                    f"fn failed to broadcast for {shapes}: broadcasting lines up the LAST axes, so a of shape "
                    f"(N, C) meets (H, W); reshape it to (N, C, 1, 1), e.g. a[:, :, None, None]."
                ) from None
            raise answer_error(error, f"fn, for {shapes},") from None
        if not torch.equal(x_in, x) or not torch.equal(a_in, a):
            raise AssertionError(
                "fn changed its input in place (e.g. x.mul_ or x *= ...); return a new tensor so that x "
                "stays available, e.g. for the residual add that follows the module."
            )
        y = as_tensor(y, (n, c, h, w), "fn")
        if tuple(y.shape) != (n, c, h, w):
            raise AssertionError(
                f"fn returned shape {tuple(y.shape)} for {shapes}; the scale step keeps x's shape {(n, c, h, w)}."
            )
        want = x * a[:, :, None, None]
        if torch.allclose(y, want, atol=1e-6):
            continue
        if torch.allclose(y, a[:, :, None, None].expand_as(x)):
            raise AssertionError("fn returned the gate broadcast to x's shape; multiply it by x: y = a ⊙ x.")
        if n == 1 and c == w and torch.allclose(y, x * a[:, None, None, :], atol=1e-6):
            raise AssertionError(
                f"For {shapes} your result scales the width axis W, not the channels: a of shape (N, C) lines "
                f"up with the last two axes (H, W), so reshape it to (N, C, 1, 1) first."
            )
        if n == 1 and c == h and torch.allclose(y, x * a[:, None, :, None], atol=1e-6):
            raise AssertionError(
                f"For {shapes} your result scales the height axis H, not the channels; give a the shape "
                f"(N, C, 1, 1) so it broadcasts over H and W."
            )
        raise AssertionError(f"fn(x, a) differs from a[:, :, None, None] * x for {shapes}.")
    print(f"Correct: fn(x, a) scales every channel by its gate for {len(_SCALE_SHAPES)} shapes, "
          f"including the square one where x * a fails silently.")
