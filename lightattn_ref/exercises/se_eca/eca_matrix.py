"""``check_eca_matrix``: the C x C banded matrix that ECA's 1-D convolution multiplies by."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .._common import as_tensor, call_answer, reader_check


def _banded(weight: Tensor, channels: int, shift: int = 0) -> Tensor:
    """Reference (shift 0): M[i, j] = w[j - i + (k - 1) / 2] where that index is in range, else 0.

    A non-zero ``shift`` moves the band ``shift`` columns to the right (a typical mistake)."""
    k, pad = weight.numel(), (weight.numel() - 1) // 2
    matrix = torch.zeros(channels, channels, dtype=weight.dtype)
    for i in range(channels):
        for t in range(k):
            j = i + t - pad + shift
            if 0 <= j < channels:
                matrix[i, j] = weight[t]
    return matrix


def _circular(weight: Tensor, channels: int) -> Tensor:
    k, pad = weight.numel(), (weight.numel() - 1) // 2
    matrix = torch.zeros(channels, channels, dtype=weight.dtype)
    for i in range(channels):
        for t in range(k):
            matrix[i, (i + t - pad) % channels] += weight[t]
    return matrix


_MATRIX_CASES: tuple[tuple[int, int], ...] = ((3, 6), (5, 9), (1, 4), (7, 12), (5, 5))  # (k, C)


@reader_check
def check_eca_matrix(fn: Callable[[Tensor, int], Tensor]) -> None:
    """Check a reader's ``fn(weight, channels) -> M``: the C x C matrix of ECA's 1-D convolution.

    Args:
        fn: takes the kernel ``weight`` of shape (k,) (k odd) and C = ``channels`` and returns
            M of shape (C, C) with ``M @ s == conv1d(s, weight, padding=(k - 1) // 2)`` for
            every s in R^C, i.e. M[i, j] = w[j - i + (k - 1) / 2] inside the band, 0 elsewhere.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence otherwise,
    naming the mistake: a flipped kernel (a true convolution, or the transposed matrix, which
    is the same thing here; nn.Conv1d computes a cross-correlation), wrap-around at the ends (circular padding), a
    band that is not centred on the diagonal, or a wrong shape.
    """
    for seed, (k, c) in enumerate(_MATRIX_CASES):
        gen = torch.Generator().manual_seed(400 + seed)
        weight = torch.randn(k, generator=gen)
        got = as_tensor(call_answer(fn, weight.clone(), c), (c, c))
        if tuple(got.shape) != (c, c):
            raise AssertionError(f"fn(weight, {c}) returned shape {tuple(got.shape)}; ECA's matrix is C x C = {(c, c)}.")
        got = got.to(weight.dtype)
        want = _banded(weight, c)
        s = torch.randn(3, 1, c, generator=gen)
        conv = F.conv1d(s, weight.view(1, 1, k), padding=(k - 1) // 2)[:, 0]
        assert torch.allclose(s[:, 0] @ want.T, conv, atol=1e-5), "internal error: reference matrix"
        if torch.allclose(got, want, atol=1e-6):
            continue
        if torch.allclose(got, _banded(weight.flip(0), c), atol=1e-6):
            raise AssertionError(  # the transposed band is the same matrix
                f"your matrix flips the kernel (a true convolution, or the transposed matrix), but nn.Conv1d "
                f"computes a cross-correlation: "
                f"row i must hold w[0] at column i - {(k - 1) // 2} and w[{k - 1}] at column i + {(k - 1) // 2}."
            )
        if torch.allclose(got, _circular(weight, c), atol=1e-6):
            raise AssertionError(
                "your matrix wraps around at the ends (circular padding); ECA pads the pooled vector with zeros, "
                "so the first and last rows have fewer than k entries."
            )
        for shift in (-3, -2, -1, 1, 2, 3):
            if torch.allclose(got, _banded(weight, c, shift), atol=1e-6):
                raise AssertionError(
                    f"your band is shifted by {shift} column(s): w[(k - 1) / 2] must sit on the diagonal M[i, i]."
                )
        raise AssertionError(
            f"fn(weight, {c}) for k={k} differs from the matrix of conv1d(s, weight, padding={(k - 1) // 2})."
        )
    print(f"Correct: your matrix equals ECA's 1-D convolution for {len(_MATRIX_CASES)} pairs (k, C).")
