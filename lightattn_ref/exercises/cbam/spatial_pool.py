"""Exercise check: CBAM's spatial pooling, the max and the mean over channels."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._common import as_tensor, call_answer, close, reader_check

# (N, C, H, W): all four sizes differ, so pooling over a wrong axis changes the shape
_POOL_CASES: tuple[tuple[int, int, int, int], ...] = ((2, 8, 5, 7), (1, 3, 4, 6), (3, 16, 7, 5), (4, 5, 9, 3))


def _reference_pool(x: Tensor) -> Tensor:
    """The package's spatial-gate input: [max over channels, mean over channels] (SpatialGate.gate)."""
    return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)


def _diagnose_pool(answer: Tensor, x: Tensor) -> str:
    mx, mean = x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)
    known = [
        (torch.cat([mean, mx], dim=1), "the maps are in the order [mean, max], the order of the paper's "
         "equation: the official code, and so the package, puts the max map first and the mean map "
         "second, and the convolution's weights depend on that order."),
        (torch.cat([mx, x.sum(dim=1, keepdim=True)], dim=1), "the second map is the sum over channels, "
         "not the mean: divide by C (or use mean)."),
        (torch.cat([mx, mx], dim=1), "both maps are the maximum: the second map must be the mean over channels."),
        (torch.cat([mean, mean], dim=1), "both maps are the mean: the first map must be the maximum over channels."),
        (torch.cat([x.amin(dim=1, keepdim=True), mean], dim=1), "the first map is the minimum over channels: "
         "it must be the maximum."),
    ]
    for candidate, message in known:
        if close(answer, candidate):
            return message
    error = (answer - _reference_pool(x)).abs().max().item()
    return (f"the maps differ from [max over channels, mean over channels] by up to {error:.3g} for x of "
            f"shape {list(x.shape)}: pool over dim=1 and concatenate the max map before the mean map.")


@reader_check
def check_spatial_pool(spatial_pool: Callable[[Tensor], Tensor]) -> None:
    """Check a reader's input of CBAM's spatial gate: [max over C, mean over C], shape (N, 2, H, W).

    Args:
        spatial_pool: ``spatial_pool(x) -> s_sp`` with x of shape (N, C, H, W) and s_sp of
            shape (N, 2, H, W): s_sp[:, 0] the maximum over channels, s_sp[:, 1] the mean over
            channels (eq. cbam-spatial-pool; the order of the official code, while the
            paper's eq. 3 puts the mean first).

    Raises:
        AssertionError: with one sentence naming the mistake (mean first, pooling over the wrong
            axis, sum instead of mean, input changed in place, ...).
    """
    for i, (n, c, h, w) in enumerate(_POOL_CASES):
        gen = torch.Generator().manual_seed(2000 + i)
        x = torch.randn(n, c, h, w, generator=gen)
        x_copy = x.clone()
        answer = call_answer(spatial_pool, x)
        if not torch.equal(x, x_copy):
            raise AssertionError("the function changed its input x in place: pooling must leave x as it was.")
        answer = as_tensor(answer, (n, 2, h, w)).float()
        if list(answer.shape) != [n, 2, h, w]:
            raise AssertionError(
                f"for x of shape {[n, c, h, w]} the result has shape {list(answer.shape)} instead of {[n, 2, h, w]}: "
                f"pool over the channel axis (dim=1, keepdim=True) and concatenate the two maps along dim=1."
            )
        if not close(answer, _reference_pool(x)):
            raise AssertionError(_diagnose_pool(answer, x))
    print(f"Correct: [max over channels, mean over channels] matches CBAM's spatial gate input "
          f"for {len(_POOL_CASES)} random shapes.")
