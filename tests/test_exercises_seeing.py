"""The seeing chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.exercises.seeing import (
    check_box_energy,
    check_gradcam_weights,
    check_peak_location,
    reference_box_energy,
    reference_cam,
)
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


# ----------------------------------------------------------------------------- energy share
def energy_right(maps: Tensor, target: Tensor) -> float:
    has = target.flatten(1).any(dim=1)
    m, t = maps[has], target[has]
    share = (m * t).flatten(1).sum(dim=1) / m.flatten(1).sum(dim=1)
    return float(torch.nan_to_num(share, nan=0.0).mean())


def energy_loop(maps: Tensor, target: Tensor) -> Tensor:
    """A loop over the images, returning a 0-d tensor: right too."""
    shares = []
    for m, t in zip(maps, target):
        if t.any():
            total = m.sum()
            shares.append(m[t].sum() / total if total > 0 else torch.tensor(0.0))
    return torch.stack(shares).mean()


@pytest.mark.parametrize("answer", [energy_right, energy_loop], ids=["vectorised", "loop"])
def test_box_energy_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_box_energy(answer)
    assert capsys.readouterr().out.startswith("Correct: the share of each map's mass on its target")


def test_reference_box_energy_of_a_uniform_map() -> None:
    """A uniform map puts |S| / (H W) of its mass on a box of |S| pixels: 9 / 256 for the chapter's squares."""
    target = torch.zeros(2, 16, 16, dtype=torch.bool)
    target[0, 4:7, 5:8] = True
    assert abs(reference_box_energy(torch.ones(2, 16, 16), target) - 9 / 256) < 1e-7


def shares(maps: Tensor, target: Tensor) -> Tensor:
    return torch.nan_to_num((maps * target).flatten(1).sum(dim=1) / maps.flatten(1).sum(dim=1), nan=0.0)


def has_target(target: Tensor) -> Tensor:
    return target.flatten(1).any(dim=1)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda m, t: float(shares(m, t).mean()), "averaged over all N images"),
        (lambda m, t: float((m * t)[has_target(t)].sum() / m[has_target(t)].sum()), "take each image's share first"),
        (lambda m, t: float(((m * t).flatten(1).sum(1) / m.flatten(1).sum(1))[has_target(t)].mean()), "returned nan"),
        (lambda m, t: float(shares(m, t)[has_target(t) & (m.flatten(1).sum(1) > 0)].mean()),
         "left the all-zero maps"),
        (lambda m, t: float(((m * t).flatten(1).sum(1) / m.flatten(1).amax(1).clamp_min(1e-30))[has_target(t)].mean()),
         "divided by the map's maximum"),
        (lambda m, t: float((shares(m, t) * m.shape[1] * m.shape[2] / t.flatten(1).sum(1).clamp_min(1))[has_target(t)]
                            .mean()), "mean inside the box by the mean"),
        (lambda m, t: float((m * t).flatten(1).sum(1)[has_target(t)].mean()), "without dividing"),
        (lambda m, t: float(t.flatten(1)[torch.arange(len(m)), m.flatten(1).argmax(1)][has_target(t)].float().mean()),
         "peak hit rate"),
        (shares, "return one number"),
        (lambda m, t: "0.5", "as one number"),
        (lambda m, t: energy_right(m, t) + 0.01, "mean share of the mass in the target is"),
    ],
    ids=["all-images", "ratio-of-totals", "nan", "skip-zero-maps", "by-max", "ratio-of-means", "no-division",
         "hit-rate", "per-image", "string", "off"],
)
def test_box_energy_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_box_energy(wrong)
