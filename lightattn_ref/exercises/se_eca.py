"""Exercise checks for the SE-to-ECA chapter (notebooks/02_se_to_eca.ipynb).

- ``check_psi``: ECA's kernel-size rule k = psi(C) = |log2(C)/gamma + b/gamma|_odd (eq. eca-psi).
- ``check_se_var2``: SE-Var2 of the ECA paper, a = sigma(w ⊙ GAP(x)), one weight per channel.
- ``check_eca_matrix``: the C x C banded matrix that ECA's 1-D convolution multiplies by (eq. eca-gate).
- ``check_eca_ns``: ECA-NS, the band of ECA with k weights of its own for every channel (C·k in all).
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._common import answer_error, as_tensor, call_answer, reader_check

__all__: list[str] = ["check_eca_matrix", "check_eca_ns", "check_psi", "check_se_var2", "reference_psi"]


def reference_psi(channels: int, gamma: float = 2, b: float = 1) -> int:
    """Eq. eca-psi as the paper's code computes it: ``t = int(abs((log2(C) + b) / gamma))`` (the integer part
    of z), then the next odd."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1


def _psi_with_log(channels: int, gamma: float, b: float, log: Callable[[float], float]) -> int:
    """The rule with another logarithm (a typical mistake)."""
    t = int(abs((log(channels) + b) / gamma))
    return t if t % 2 == 1 else t + 1


def _psi_cases() -> list[tuple[int, float, float]]:
    """40 (C, gamma, b) cases: the six ResNet widths, other widths seen in CNNs, random ones and
    non-default constants (the paper's (2, 1) first, so a default-only mistake shows up last)."""
    widths = [64, 128, 256, 512, 1024, 2048, 16, 24, 32, 96, 160, 320, 576, 960, 1280, 4096]
    rng = random.Random(2020)
    widths += rng.sample(range(3, 5000), 12)
    cases = [(c, 2.0, 1.0) for c in widths]
    for gamma, b in ((1.0, 1.0), (3.0, 1.0), (2.0, 0.0), (2.0, 3.0), (1.5, 1.0), (3.0, 2.0)):
        cases += [(c, gamma, b) for c in rng.sample(widths, 2)]
    return cases


def _describe(channels: int, gamma: float, b: float) -> str:
    if (gamma, b) == (2.0, 1.0):
        return f"psi({channels})"
    return f"psi({channels}, gamma={gamma:g}, b={b:g})"


@reader_check
def check_psi(fn: Callable[..., int]) -> None:
    """Check a reader's ``fn(channels, gamma=2, b=1) -> k``, ECA's kernel-size rule (eq. eca-psi).

    Args:
        fn: returns the odd kernel size k for C = ``channels``; it is called as ``fn(C)`` for the
            paper's constants and as ``fn(C, gamma, b)`` for others.

    Prints one line when ``fn`` agrees with the rule on 40 cases. Raises ``AssertionError`` with
    one sentence otherwise, naming the mistake: a non-int result, an even kernel, a forgotten b,
    another logarithm than log2, a wrong rounding of z = (log2 C + b) / gamma, or constants hard-coded instead of gamma and b.
    """
    cases = _psi_cases()
    results = []
    for channels, gamma, b in cases:
        got = call_answer(fn, channels) if (gamma, b) == (2.0, 1.0) else call_answer(fn, channels, gamma, b)
        if isinstance(got, bool) or not isinstance(got, numbers.Integral):
            raise AssertionError(
                f"{_describe(channels, gamma, b)} returned {type(got).__name__} {got!r}; return an int, since "
                f"nn.Conv1d needs an integer kernel size."
            )
        results.append(int(got))
    wrong = [(case, got) for case, got in zip(cases, results) if got != reference_psi(*case)]
    if wrong:
        (channels, gamma, b), got = wrong[0]
        call, want = _describe(channels, gamma, b), reference_psi(channels, gamma, b)
        z = (math.log2(channels) + b) / gamma
        if got % 2 == 0:
            raise AssertionError(
                f"kernel {got} for C={channels} is even: ECA needs an odd k so the output keeps C values."
            )
        if all(got == reference_psi(c, g, 0) for (c, g, _), got in zip(cases, results)):
            raise AssertionError(
                f"{call} returned {got} but the rule gives {want}: you forgot b, the rule is "
                f"k = |(log2 C + b) / gamma|_odd."
            )
        if all(got == reference_psi(c) for (c, _, _), got in zip(cases, results)):
            raise AssertionError(
                f"{call} returned {got}, the value for gamma=2 and b=1, but the rule gives {want}: use the "
                f"gamma and b arguments instead of fixed constants."
            )
        for log in (math.log, math.log10):
            if all(got == _psi_with_log(c, g, b_, log) for (c, g, b_), got in zip(cases, results)):
                raise AssertionError(
                    f"{call} returned {got} but the rule gives {want}: use the base-2 logarithm log2(C), "
                    f"not {log.__name__}."
                )
        if abs(got - z) <= 2:
            raise AssertionError(
                f"{call} returned {got} but the rule gives {want}: with z = (log2 C + b) / gamma = {z:.4g}, "
                f"take int(z) and add 1 when it is even (the nearest odd number, ties going up)."
            )
        raise AssertionError(f"{call} returned {got} but the rule k = |(log2 C + b) / gamma|_odd gives {want}.")
    print(f"Correct: psi(C) matches the paper's rule for {len(cases)} values of C, gamma and b.")


def _gated_output(module: nn.Module, x: Tensor, gate: Tensor) -> Tensor:
    """The reader's module applied to x, once it is neither the gate itself nor another shape."""
    n, c, h, w = x.shape
    y = as_tensor(call_answer(module, x.clone(), what="the module"), (n, c, h, w), "the module")
    if tuple(y.shape) == (n, c, 1, 1) and torch.allclose(y, gate, atol=1e-6):
        raise AssertionError("the module returns the gate a; return the scaled input a ⊙ x instead.")
    if tuple(y.shape) != (n, c, h, w):
        raise AssertionError(
            f"the module returned shape {tuple(y.shape)} for x of shape {(n, c, h, w)}; it must keep x's shape."
        )
    return y


_VAR2_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 8, 5, 3), (1, 64, 4, 7), (3, 96, 2, 2))


@reader_check
def check_se_var2(module_cls: Callable[[int], nn.Module]) -> None:
    """Check a reader's SE-Var2 module: y = sigma(w ⊙ GAP(x)) ⊙ x with one weight per channel.

    Args:
        module_cls: ``module_cls(channels)`` builds the module; it must hold exactly C trainable
            parameters in one tensor (any shape with C elements, e.g. (C,) or (C, 1, 1)): the
            diagonal of SE-Var2's C x C matrix. No bias, no channel mixing.

    The check writes random values into that tensor, in its natural (flattened) order, and
    compares the module's output with the formula on several shapes. Prints one line when it
    is right. Raises ``AssertionError`` with one sentence otherwise, naming the mistake: a full
    C x C matrix (that is SE-Var3), a bias, another parameter count, a missing sigmoid, max
    pooling, the gate returned instead of the product, or another difference.
    """
    for seed, (n, c, h, w) in enumerate(_VAR2_SHAPES):
        try:
            module = module_cls(c)
        except TypeError as error:
            raise AssertionError(f"module_cls({c}) failed: it must take the number of channels C ({error}).") from None
        except Exception as error:  # noqa: BLE001 - any other failure of the reader's code is reported
            raise answer_error(error, f"module_cls({c})") from None
        params = [p for p in module.parameters() if p.requires_grad]
        count = sum(p.numel() for p in params)
        if count in (c * c, c * c + c):
            raise AssertionError(
                f"SE-Var2 for C={c} has {count:,} parameters: that is a full C x C matrix (SE-Var3); SE-Var2 "
                f"keeps only its diagonal, one weight per channel ({c} parameters)."
            )
        if count == 2 * c:
            raise AssertionError(
                f"SE-Var2 for C={c} has {count} parameters, 2C: the ECA paper's SE-Var2 has no bias, only one "
                f"weight per channel ({c} parameters)."
            )
        if count != c or len(params) != 1:
            raise AssertionError(
                f"SE-Var2 for C={c} must hold exactly C = {c} parameters in one tensor (the diagonal of its "
                f"matrix); yours has {count:,} in {len(params)} tensor(s)."
            )
        gen = torch.Generator().manual_seed(200 + seed)
        weight = torch.randn(c, generator=gen)
        x = torch.randn(n, c, h, w, generator=gen)
        with torch.no_grad():
            params[0].copy_(weight.view_as(params[0]))
        module.eval()
        s = x.mean(dim=(2, 3))
        gate = torch.sigmoid(weight * s)[:, :, None, None]
        y = _gated_output(module, x, gate)
        if torch.allclose(y, x * gate, atol=1e-5):
            continue
        if torch.allclose(y, x * (weight * s)[:, :, None, None], atol=1e-5):
            raise AssertionError("the gate is missing its sigmoid: a = sigma(w ⊙ GAP(x)) must lie in (0, 1).")
        if torch.allclose(y, x * torch.sigmoid(weight * x.amax(dim=(2, 3)))[:, :, None, None], atol=1e-5):
            raise AssertionError("the module pools with the maximum; SE-Var2 squeezes with global average pooling.")
        if torch.allclose(y, x * torch.sigmoid(s)[:, :, None, None], atol=1e-5):
            raise AssertionError(
                "the module ignores its weight: that is SE-Var1; multiply each pooled value by its weight."
            )
        raise AssertionError(
            f"the module's output differs from sigma(w ⊙ GAP(x)) ⊙ x for x of shape {(n, c, h, w)}, with w its "
            f"{c} weights in order."
        )
    print(f"Correct: your SE-Var2 has C weights and matches sigma(w ⊙ GAP(x)) ⊙ x on {len(_VAR2_SHAPES)} shapes.")


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


# --------------------------------------------------------------------------------------------
# Exercise 4: ECA-NS, a band with a row of weights for every channel
# --------------------------------------------------------------------------------------------

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
