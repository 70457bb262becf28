"""The seeing chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.exercises.seeing import check_gradcam_weights, check_peak_location, reference_cam
from lightattn_ref.gradcam import grad_cam


# -------------------------------------------------------------------------------- Grad-CAM
def cam_right(a: Tensor, g: Tensor) -> Tensor:
    alpha = g.mean(dim=(2, 3), keepdim=True)
    return torch.relu((alpha * a).sum(dim=1))


def cam_einsum(a: Tensor, g: Tensor) -> Tensor:
    return torch.einsum("nk,nkhw->nhw", g.mean(dim=(2, 3)), a).clamp_min(0)


@pytest.mark.parametrize("answer", [cam_right, cam_einsum], ids=["broadcast", "einsum"])
def test_gradcam_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_gradcam_weights(answer)
    assert capsys.readouterr().out.startswith("Correct: Grad-CAM maps match")


def test_reference_cam_matches_the_package() -> None:
    """The check's reference is the package's Grad-CAM before upsampling and normalisation."""
    torch.manual_seed(3)  # a seed where every image has some positive evidence for class 1
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 6, 3))
    x = torch.randn(3, 2, 5, 6)
    acts: list[Tensor] = []
    handle = model[1].register_forward_hook(lambda m, i, o: acts.append(o))
    logits = model(x)
    handle.remove()
    (grads,) = torch.autograd.grad(logits[:, 1].sum(), acts[0])
    cam = reference_cam(acts[0].detach(), grads)
    peak = cam.flatten(1).amax(dim=1)
    assert bool((peak > 0).all()), "pick a seed where every map has some positive evidence"
    want = cam / peak[:, None, None]
    torch.testing.assert_close(grad_cam(model, x, model[1], class_idx=1), want)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda a, g: torch.relu((g.amax(dim=(2, 3), keepdim=True) * a).sum(dim=1)), "maximum of the gradient"),
        (lambda a, g: torch.relu((g.sum(dim=(2, 3), keepdim=True) * a).sum(dim=1)), "summed the gradient"),
        (lambda a, g: (g.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1), "negative values"),
        (lambda a, g: torch.relu((g.mean(dim=1, keepdim=True) * a).sum(dim=1)), "over the channels"),
        (lambda a, g: torch.relu((g * a).sum(dim=1)), "its own gradient"),
        (lambda a, g: cam_right(a, g) / cam_right(a, g).flatten(1).amax(1)[:, None, None], "divided by its maximum"),
        (lambda a, g: torch.relu(g.mean(dim=(2, 3), keepdim=True) * a), "sum over the channels"),
        (lambda a, g: cam_right(a, g)[:, :-1], "must have shape"),
        (lambda a, g: cam_right(a, g) + 0.1, "differs from"),
    ],
    ids=["max", "sum", "no-relu", "wrong-axis", "per-position", "normalised", "no-channel-sum", "shape", "off"],
)
def test_gradcam_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_gradcam_weights(wrong)


# ------------------------------------------------------------------------------------- peak
def peak_right(maps: Tensor) -> tuple[Tensor, Tensor]:
    flat = maps.flatten(1).argmax(dim=1)
    return flat // maps.shape[2], flat % maps.shape[2]


def peak_two_steps(maps: Tensor) -> tuple[Tensor, Tensor]:
    """Row of the largest row maximum, column of the largest column maximum: right too."""
    return maps.amax(dim=2).argmax(dim=1), maps.amax(dim=1).argmax(dim=1)


def peak_unravel(maps: Tensor) -> tuple[Tensor, Tensor]:
    rows, cols = torch.unravel_index(maps.flatten(1).argmax(dim=1), maps.shape[1:])
    return rows, cols


@pytest.mark.parametrize("answer", [peak_right, peak_two_steps, peak_unravel], ids=["divmod", "two-steps", "unravel"])
def test_peak_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_peak_location(answer)
    assert capsys.readouterr().out.startswith("Correct: (row, col) of the maximum")


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda m: peak_right(m)[::-1], "swapped"),
        (lambda m: m.flatten(1).argmax(dim=1), "flat index"),
        (lambda m: (m.flatten(1).argmax(1) // m.shape[1], m.flatten(1).argmax(1) % m.shape[1]), "divided the flat index by H"),
        (lambda m: peak_right(-m), "minimum"),
        (lambda m: tuple(t.float() for t in peak_right(m)), "integer indices"),
        (lambda m: (m.argmax(dim=1), m.argmax(dim=2)), "must each have shape"),
        (lambda m: (peak_right(m)[0], torch.zeros(m.shape[0], dtype=torch.long)), "do not point at the maxima"),
    ],
    ids=["swapped", "flat", "divide-by-H", "argmin", "floats", "per-axis-argmax", "off"],
)
def test_peak_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_peak_location(wrong)
