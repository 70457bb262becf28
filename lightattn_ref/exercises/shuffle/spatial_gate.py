"""``check_sa_spatial_gate``: the gate of SA's spatial half, sigma(w * GN(x) + b) (eq. sa-spatial)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ...attention.shuffle import ShuffleAttention
from .._common import as_tensor, call_answer, close, reader_check


# (N, m, H, W): small H * W makes the unbiased variance visibly different
_GATE_CASES: tuple[tuple[int, int, int, int], ...] = ((2, 4, 5, 6), (1, 3, 4, 4), (3, 8, 3, 7), (2, 2, 2, 3))


def _reference_spatial_gate(x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> Tensor:
    """The package's spatial-half gate: one SA group (G = 1) whose second half is ``x``."""
    n, m, h, w = x.shape
    module = ShuffleAttention(2 * m, groups=1)
    module.gn.eps = eps
    with torch.no_grad():
        module.sweight.copy_(weight)
        module.sbias.copy_(bias)
        full = torch.cat([torch.zeros_like(x), x], dim=1)  # channel half first, spatial half second
        return module.attention_maps(full)["spatial"]


def _standardise(x: Tensor, dims: tuple[int, ...], eps: float, correction: int = 0) -> Tensor:
    var, mean = torch.var_mean(x, dim=dims, keepdim=True, correction=correction)
    return (x - mean) / torch.sqrt(var + eps)


def _diagnose_gate(answer: Tensor, x: Tensor, weight: Tensor, bias: Tensor, eps: float) -> str:
    def gate(z: Tensor) -> Tensor:
        return torch.sigmoid(weight * z + bias)

    mean_hw = x.mean(dim=(2, 3), keepdim=True)
    known = [
        (gate(_standardise(x, (1,), eps)), "the gate standardises over the channel axis: the spatial half "
         "standardises each channel of each sample over its own H x W positions (dims 2 and 3)."),
        (gate(_standardise(x, (1, 2, 3), eps)), "the gate standardises over all channels and positions together "
         "(GroupNorm with one group): use one group per channel, each channel over its own H x W."),
        (gate(_standardise(x, (0, 2, 3), eps)), "the gate standardises over the batch and the positions "
         "(BatchNorm): each sample's channel is standardised on its own H x W, without the batch."),
        (gate(_standardise(x, (2,), eps)),
         "the gate standardises over H only: use both spatial axes (dims 2 and 3)."),
        (gate(_standardise(x, (3,), eps)),
         "the gate standardises over W only: use both spatial axes (dims 2 and 3)."),
        (gate(_standardise(x, (2, 3), eps, correction=1)), "the gate uses the unbiased variance (divides by "
         "H*W - 1): GroupNorm divides by H*W (correction=0 or unbiased=False)."),
        (weight * _standardise(x, (2, 3), eps) + bias, "the sigmoid is missing: the gate is sigma(w * GN(x) + b)."),
        (gate(x), "the gate uses x itself: standardise each channel over H x W first."),
        (gate(x - mean_hw), "the gate subtracts the mean but does not divide by sqrt(var + eps)."),
        (torch.sigmoid(_standardise(x, (2, 3), eps)),
         "the gate ignores the affine: apply w * GN(x) + b before the sigmoid."),
    ]
    for candidate, message in known:
        if close(answer, candidate):
            return message
    expected = _reference_spatial_gate(x, weight, bias, eps)
    error = (answer - expected).abs().max().item()
    return (f"the gate differs from sigma(w * GN(x) + b) by up to {error:.3g} for x of shape {list(x.shape)}: "
            f"standardise each channel over H x W with the biased variance and eps inside the square root.")


@reader_check
def check_sa_spatial_gate(spatial_gate: Callable[[Tensor, Tensor, Tensor, float], Tensor]) -> None:
    """Check a reader's gate of SA's spatial half against ``ShuffleAttention.attention_maps``.

    Args:
        spatial_gate: ``spatial_gate(x, weight, bias, eps) -> a`` with x of shape (N, m, H, W),
            weight and bias of shape (1, m, 1, 1) (``sweight``, ``sbias``) and a float eps. It must
            return a = sigma(weight * GN(x) + bias) of shape (N, m, H, W), where
            GN(x) = (x - mean) / sqrt(var + eps) with the mean and the biased variance of each
            channel of each sample over its H x W positions (GroupNorm(m, m) with its initial
            affine; eq. sa-spatial).

    Raises:
        AssertionError: with one sentence naming the mistake (standardising over the channels,
            over everything, over the batch, unbiased variance, missing eps, missing sigmoid, ...).
    """
    for i, (n, m, h, w) in enumerate(_GATE_CASES):
        gen = torch.Generator().manual_seed(4000 + i)
        x = 3 * torch.randn(n, m, h, w, generator=gen) + torch.randn(1, m, 1, 1, generator=gen)
        weight = 2 * torch.randn(1, m, 1, 1, generator=gen)
        bias = torch.randn(1, m, 1, 1, generator=gen)
        eps = 1e-5
        answer = call_answer(spatial_gate, x.clone(), weight.clone(), bias.clone(), eps)
        answer = as_tensor(answer, (n, m, h, w))
        if list(answer.shape) != [n, m, h, w]:
            raise AssertionError(
                f"for x of shape {[n, m, h, w]} the gate has shape {list(answer.shape)}: the spatial half "
                f"has one gate value per channel and position, shape (N, m, H, W)."
            )
        answer = answer.float()
        if not close(answer, _reference_spatial_gate(x, weight, bias, eps)):
            raise AssertionError(_diagnose_gate(answer, x, weight, bias, eps))
    # a constant channel has variance 0: only eps inside the square root keeps the gate finite
    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(4100))
    x[:, 1] = 0.7
    weight, bias = torch.full((1, 3, 1, 1), 1.5), torch.full((1, 3, 1, 1), 0.25)
    answer = as_tensor(call_answer(spatial_gate, x.clone(), weight, bias, 1e-5), tuple(x.shape)).float()
    if not bool(torch.isfinite(answer).all()):
        raise AssertionError("the gate is not finite for a constant channel (variance 0): "
                             "put eps inside the square root, sqrt(var + eps).")
    if not close(answer, _reference_spatial_gate(x, weight, bias, 1e-5)):
        raise AssertionError(_diagnose_gate(answer, x, weight, bias, 1e-5))
    print(f"Correct: sigma(w * GN(x) + b) matches SA's spatial gate for {len(_GATE_CASES) + 1} inputs, "
          f"including a constant channel.")
