"""``check_eca_ns``: ECA-NS, a band with k weights of its own for every channel (C·k in all)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._common import answer_error, reader_check
from ._shared import _gated_output


# (N, C, H, W, k) cases for check_eca_ns; k != C everywhere, so C·k and C^2 never coincide.
_NS_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 8, 5, 3, 3), (1, 16, 4, 7, 5), (3, 10, 2, 3, 7), (2, 6, 3, 3, 3), (1, 12, 2, 2, 1),
)


def _ns_scores(s: Tensor, weight: Tensor, *, mode: str = "constant", shift: int = 0) -> Tensor:
    """z[n, i] = sum_j weight[i, j] s[n, i + j - (k - 1) / 2 + shift], zeros beyond the ends (reference: shift 0).

    ``mode="circular"`` wraps around instead (a typical mistake), as does a non-zero ``shift``.
    """
    k = weight.shape[1]
    p = (k - 1) // 2
    left, right = p - shift, p + shift
    if mode == "circular":
        padded = F.pad(s[:, None], (left, right), mode="circular")[:, 0]
    else:
        padded = F.pad(s, (max(left, 0), max(right, 0)))
        padded = padded[:, max(-left, 0): padded.shape[1] - max(-right, 0)]
    windows = padded.unfold(1, k, 1)  # (N, C, k): windows[n, i] holds s_{i-p+shift} ... s_{i+p+shift}
    return (windows * weight).sum(dim=-1)


def _ns_band(weight: Tensor) -> Tensor:
    """The C x C matrix of ECA-NS: M[i, i + j - p] = weight[i, j] inside the matrix."""
    c, k = weight.shape
    p = (k - 1) // 2
    matrix = torch.zeros(c, c, dtype=weight.dtype)
    for i in range(c):
        for j in range(k):
            if 0 <= i + j - p < c:
                matrix[i, i + j - p] = weight[i, j]
    return matrix


def _ns_count_slip(count: int, c: int, k: int) -> str | None:
    """The sentence for a typical wrong parameter count of ECA-NS (C channels, kernel k), if any."""
    if count == k:
        return (f"your ECA-NS for C={c}, k={k} has {count} parameters, one kernel shared by all channels: that is "
                f"ECA; ECA-NS gives every channel its own k weights, C·k = {c * k} in all.")
    if count in (c * c, c * c + c):
        return (f"your ECA-NS for C={c}, k={k} has {count} parameters, a full C x C matrix (masked or not): store "
                f"only the band, k weights per channel, C·k = {c * k} in all.")
    if count in (c * k + c, c * k + 1):
        return (f"your ECA-NS for C={c}, k={k} has {count} parameters: ECA-NS has no bias, only its C·k = "
                f"{c * k} band weights.")
    if count == c:
        return (f"your ECA-NS for C={c}, k={k} has {count} parameters, one per channel: that is SE-Var2's "
                f"diagonal; ECA-NS keeps k weights per channel, C·k = {c * k} in all.")
    return None


@reader_check
def check_eca_ns(module_cls: Callable[[int, int], nn.Module]) -> None:
    """Check a reader's ECA-NS module: a banded excite step with k weights of its own for every channel.

    Args:
        module_cls: ``module_cls(channels, kernel_size)`` builds the module for C channels and an
            odd k. It must hold exactly C·k trainable parameters in one tensor, of shape (C, k)
            (or any shape whose flattened order is (C, k), e.g. (C, 1, k)), and compute
            y = sigma(z) ⊙ x with z_i = sum_j W_ns[i, j] s_{i + j - (k - 1) / 2}, s = GAP(x),
            0-based indices and s = 0 beyond both ends. No bias.

    The check writes random values into that tensor and compares the output with the formula
    on 5 shapes. Prints one line when it is right. Raises ``AssertionError`` with one sentence
    otherwise, naming the mistake: a shared kernel (that is ECA), a full C x C matrix, a bias,
    weights stored as (k, C), a row read backwards or a transposed band, wrap-around at the
    ends, a band off the diagonal, a missing sigmoid, max pooling, or the gate returned
    instead of the product.
    """
    for seed, (n, c, h, w, k) in enumerate(_NS_CASES):
        call = f"module_cls({c}, {k})"
        try:
            module = module_cls(c, k)
        except TypeError as error:
            raise AssertionError(
                f"{call} failed: it must take the number of channels C and the kernel size k ({error})."
            ) from None
        except Exception as error:  # noqa: BLE001 - any other failure of the reader's code is reported
            raise answer_error(error, call) from None
        params = [p for p in module.parameters() if p.requires_grad]
        count = sum(p.numel() for p in params)
        slip = None if count == c * k else _ns_count_slip(count, c, k)
        if slip is not None:
            raise AssertionError(slip)
        if count != c * k or len(params) != 1:
            raise AssertionError(
                f"ECA-NS for C={c}, k={k} must hold exactly C·k = {c * k} parameters in one tensor; yours has "
                f"{count:,} in {len(params)} tensor(s)."
            )
        if k > 1 and tuple(params[0].shape) in ((k, c), (k, 1, c), (1, k, c)):
            raise AssertionError(
                f"your weights have shape {tuple(params[0].shape)}, k x C: store them as (C, k), so that row i "
                f"holds the k weights of gate channel i."
            )
        gen = torch.Generator().manual_seed(500 + seed)
        weight = torch.randn(c, k, generator=gen)
        x = torch.randn(n, c, h, w, generator=gen)
        with torch.no_grad():
            params[0].copy_(weight.reshape(params[0].shape))
        module.eval()
        s = x.mean(dim=(2, 3))
        z = _ns_scores(s, weight)
        gate = torch.sigmoid(z)[:, :, None, None]
        y = _gated_output(module, x, gate)
        if torch.allclose(y, x * gate, atol=1e-5):
            continue

        def same(scores: Tensor, pooled: Tensor = x) -> bool:
            return bool(torch.allclose(y, pooled * torch.sigmoid(scores)[:, :, None, None], atol=1e-5))

        if same(_ns_scores(s, weight.flip(1))):
            raise AssertionError(
                f"your module reads each row of weights backwards: W_ns[i, 0] must meet the channel "
                f"i - {(k - 1) // 2} and W_ns[i, {k - 1}] the channel i + {(k - 1) // 2} (no flip, as in nn.Conv1d)."
            )
        if same(s @ _ns_band(weight)):
            raise AssertionError(
                "your module multiplies by the transposed band (a_i built from column i instead of row i): row i "
                "of the matrix, with gate channel i's own weights, must give z_i."
            )
        if same(_ns_scores(s, weight, mode="circular")):
            raise AssertionError(
                "your module wraps around at the ends (circular padding); pad the pooled vector with zeros, so "
                "the first and last channels see fewer than k neighbours."
            )
        for shift in (-3, -2, -1, 1, 2, 3):
            if same(_ns_scores(s, weight, shift=shift)):
                raise AssertionError(
                    f"your band is shifted by {shift} channel(s): W_ns[i, (k - 1) / 2] must meet channel i itself."
                )
        if torch.allclose(y, x * z[:, :, None, None], atol=1e-5):
            raise AssertionError("the gate is missing its sigmoid: a = sigma(z) must lie in (0, 1).")
        if same(_ns_scores(x.amax(dim=(2, 3)), weight)):
            raise AssertionError("the module pools with the maximum; ECA-NS squeezes with global average pooling.")
        raise AssertionError(
            f"the module's output differs from sigma(z) ⊙ x with z_i = sum_j W_ns[i, j] s_(i + j - {(k - 1) // 2}) "
            f"for x of shape {(n, c, h, w)} and k = {k}, with W_ns its weights read as a ({c}, {k}) tensor."
        )
    print(f"Correct: your ECA-NS holds C·k weights and matches its banded formula on {len(_NS_CASES)} shapes "
          f"(k = 1 to 7).")
