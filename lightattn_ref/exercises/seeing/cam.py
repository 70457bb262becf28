"""``check_gradcam_weights``: Grad-CAM's map ReLU(sum_kappa alpha_kappa A_kappa), before upsampling."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .._common import as_tensor, call_answer, reader_check, reject_known_mistakes


# (N, K, h, w): non-square maps, so an average over the wrong axes shows up, and K != h, w.
_CAM_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 5, 4, 6), (3, 7, 6, 3), (1, 4, 5, 5))


def reference_cam(activations: Tensor, gradients: Tensor) -> Tensor:
    """Eqs. seeing-alpha and seeing-cam: (N, K, h, w) twice -> the unnormalised map (N, h, w)."""
    alpha = gradients.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1)
    return torch.relu((alpha * activations).sum(dim=1))


def _cam_case(seed: int, shape: tuple[int, int, int, int]) -> tuple[Tensor, Tensor]:
    """Activations >= 0 (they follow a ReLU) and gradients of both signs, so some positions of
    sum_kappa alpha_kappa A_kappa are negative and the ReLU matters."""
    gen = torch.Generator().manual_seed(seed)
    activations = torch.rand(shape, generator=gen) * 2.0
    gradients = torch.randn(shape, generator=gen) + 0.3 * torch.randn(shape[:2] + (1, 1), generator=gen)
    return activations, gradients


@reader_check
def check_gradcam_weights(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's ``fn(activations, gradients) -> cam``, Grad-CAM before upsampling.

    Args:
        fn: takes the activations A and the gradients dy^c/dA of one layer, both (N, K, h, w),
            and returns ReLU(sum_kappa alpha_kappa A_kappa) of shape (N, h, w), with alpha_kappa
            the mean of the gradient over the h x w positions of channel kappa. No upsampling,
            no normalisation.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it is
    not, naming the mistake: the maximum (or the sum) of the gradient instead of its mean, a
    missing ReLU, a mean over the wrong axis, per-position gradient weights, or a map divided by
    its maximum.
    """
    for seed, shape in enumerate(_CAM_SHAPES):
        n, k, h, w = shape
        a, g = _cam_case(700 + seed, shape)
        want = reference_cam(a, g)
        got = as_tensor(call_answer(fn, a.clone(), g.clone()), (n, h, w))
        if tuple(got.shape) != (n, h, w):
            if tuple(got.shape) == shape:
                raise AssertionError(
                    f"Your map has shape {tuple(got.shape)}, one per channel: sum over the channels so it has "
                    f"shape {(n, h, w)}."
                )
            raise AssertionError(
                f"For activations of shape {shape} the map must have shape {(n, h, w)}, got {tuple(got.shape)}."
            )
        if torch.allclose(got, want, atol=1e-5):
            continue
        raw = (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1)
        mistakes = (
            (torch.relu((g.amax(dim=(2, 3), keepdim=True) * a).sum(dim=1)),
             "You took the maximum of the gradient over the positions: alpha_kappa is its mean over h x w."),
            (torch.relu((g.sum(dim=(2, 3), keepdim=True) * a).sum(dim=1)),
             f"You summed the gradient over the positions: alpha_kappa is its mean, {h * w} times smaller here."),
            (raw,
             "Your map has negative values: Grad-CAM keeps only what speaks for the class, ReLU of the sum."),
            (torch.relu((g.mean(dim=1, keepdim=True) * a).sum(dim=1)),
             "You averaged the gradient over the channels (dim 1): alpha_kappa averages over the positions "
             "(dims 2 and 3), one weight per channel."),
            (torch.relu((g * a).sum(dim=1)),
             "You weighted each position by its own gradient: Grad-CAM first averages the gradient over the "
             "positions, one weight alpha_kappa per channel."),
            (want / want.flatten(1).amax(dim=1).clamp_min(1e-12)[:, None, None],
             "Your map is divided by its maximum: return it before any normalisation."),
        )
        reject_known_mistakes(got, mistakes)
        raise AssertionError(
            f"For activations of shape {shape} your map differs from ReLU(sum_kappa alpha_kappa A_kappa) by up to "
            f"{float((got - want).abs().max()):.3g}."
        )
    print(f"Correct: Grad-CAM maps match ReLU(sum_kappa alpha_kappa A_kappa) for {len(_CAM_SHAPES)} shapes.")
