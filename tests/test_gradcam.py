"""Grad-CAM: the map points where the class evidence is, has the right shape and range, and leaves
the model as it found it (no hooks, same modes, no gradients written)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.gradcam import grad_cam


def evidence_model(stride: int = 1) -> nn.Sequential:
    """Two input channels pass unchanged through a 1x1 conv (identity weights; ``stride`` keeps
    every stride-th pixel), then global average pooling and a linear layer: class 0 counts
    channel 0 minus channel 1, class 1 the reverse. So the evidence for class c lies exactly
    where channel c is bright."""
    conv = nn.Conv2d(2, 2, 1, stride=stride, bias=False)
    linear = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(2)[:, :, None, None])
        linear.weight.copy_(torch.tensor([[1.0, -1.0], [-1.0, 1.0]]))
    return nn.Sequential(conv, nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear)


def two_spots(n: int = 1) -> Tensor:
    """(n, 2, 8, 8): channel 0 bright at (2, 5), channel 1 (a bit brighter) at (6, 0)."""
    x = torch.zeros(n, 2, 8, 8)
    x[:, 0, 2, 5] = 1.0
    x[:, 1, 6, 0] = 1.5
    return x


def peak(cam: Tensor) -> tuple[int, int]:
    """(row, col) of the maximum of one (H, W) map."""
    flat = int(cam.flatten().argmax())
    return flat // cam.shape[1], flat % cam.shape[1]


def test_map_peaks_where_the_class_evidence_is() -> None:
    model, x = evidence_model(), two_spots()
    cam0 = grad_cam(model, x, model[0], class_idx=0)[0]
    cam1 = grad_cam(model, x, model[0], class_idx=1)[0]
    assert peak(cam0) == (2, 5) and peak(cam1) == (6, 0)
    # the ReLU drops the evidence against the class, and everything else is exactly zero
    assert cam0[2, 5] == 1.0 and cam0.sum() == 1.0
    assert cam1[6, 0] == 1.0 and cam1.sum() == 1.0


def test_channel_weights_are_the_mean_gradients() -> None:
    model, x = evidence_model(), two_spots()
    with torch.no_grad():
        model[3].weight.copy_(torch.tensor([[1.0, 0.25], [0.0, 1.0]]))
    cam = grad_cam(model, x, model[0], class_idx=0)[0]
    # alpha = (1, 0.25) / 64, so L = alpha_0 * 1 at (2, 5) and alpha_1 * 1.5 at (6, 0)
    assert cam[2, 5] == 1.0 and cam[6, 0] == pytest.approx(0.375) and cam.sum() == pytest.approx(1.375)


def test_default_class_is_the_prediction() -> None:
    model, x = evidence_model(), two_spots()
    assert int(model(x).argmax()) == 1  # channel 1 is brighter
    assert torch.equal(grad_cam(model, x, model[0]), grad_cam(model, x, model[0], class_idx=1))
    per_image = torch.tensor([0, 1])
    maps = grad_cam(model, two_spots(2), model[0], class_idx=per_image)
    assert peak(maps[0]) == (2, 5) and peak(maps[1]) == (6, 0)
    with pytest.raises(ValueError, match="class_idx"):
        grad_cam(model, x, model[0], class_idx=2)


def test_coarse_layer_is_upsampled_to_the_input() -> None:
    model = evidence_model(stride=2)  # 8x8 -> 4x4 at the target layer
    x = torch.zeros(1, 2, 8, 8)
    x[0, 0, 4, 4] = 1.0  # kept by the stride: lands on (2, 2) of the 4x4 map
    cam = grad_cam(model, x, model[0], class_idx=0)[0]
    assert cam.shape == (8, 8)
    assert cam.max() == 1.0 and peak(cam) in {(4, 4), (4, 5), (5, 4), (5, 5)}
    assert cam[:2].abs().sum() == 0 and cam[:, :2].abs().sum() == 0  # far from the evidence: nothing


def small_cnn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, 5),
    )


def test_shape_range_and_images_are_independent() -> None:
    model, x = small_cnn(), torch.randn(4, 3, 12, 10, generator=torch.Generator().manual_seed(0))
    maps = grad_cam(model, x, model[4])  # a BN followed by an in-place ReLU
    assert maps.shape == (4, 12, 10) and maps.dtype == torch.float32
    assert maps.min() >= 0.0 and torch.allclose(maps.flatten(1).amax(1), torch.ones(4))
    # one image at a time gives the same maps as the batch (eval mode: no batch statistics)
    alone = torch.cat([grad_cam(model, x[i : i + 1], model[4]) for i in range(4)])
    assert torch.allclose(maps, alone, atol=1e-6)


def reference_cam(model: nn.Sequential, split: int, x: Tensor, classes: Tensor) -> Tensor:
    """Grad-CAM written out without hooks: cut the model after layer ``split - 1``."""
    model.eval()
    a = model[:split](x).detach().requires_grad_(True)  # A, (N, K, h, w)
    logits = model[split:](a.clone())  # clone: the in-place ReLU after it must not change A
    (grad,) = torch.autograd.grad(logits.gather(1, classes[:, None]).sum(), a)
    cam = torch.relu((grad.mean(dim=(2, 3), keepdim=True) * a).sum(dim=1, keepdim=True))
    cam = nn.functional.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return (cam / cam.flatten(1).amax(1)[:, None, None]).detach()


def test_equals_the_formula_written_out() -> None:
    model, x = small_cnn(), torch.randn(4, 3, 12, 10, generator=torch.Generator().manual_seed(1))
    classes = torch.tensor([0, 1, 4, 2])
    maps = grad_cam(model, x, model[4], class_idx=classes)  # model[4] (BN) is followed by an in-place ReLU
    assert torch.allclose(maps, reference_cam(model, 5, x, classes), atol=1e-6)


def no_hooks(model: nn.Module) -> bool:
    return all(
        not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks or m._backward_pre_hooks)
        for m in model.modules()
    )


def test_model_is_left_as_it_was() -> None:
    model, x = small_cnn(), torch.randn(2, 3, 8, 8)
    model.train()
    model[1].eval()  # a mixed state, e.g. a frozen BatchNorm, must survive too
    modes = [m.training for m in model.modules()]
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():  # works under no_grad as well
        grad_cam(model, x, model[3])
    assert [m.training for m in model.modules()] == modes
    assert no_hooks(model)
    assert all(p.grad is None for p in model.parameters())  # a training run's gradients are untouched
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # no BN statistics updated


def test_hook_removed_and_mode_restored_on_error() -> None:
    model, stranger = small_cnn().train(), nn.Conv2d(3, 3, 1)
    with pytest.raises(ValueError, match="not called"):
        grad_cam(model, torch.randn(1, 3, 8, 8), stranger)
    assert no_hooks(stranger) and no_hooks(model) and model.training
    with pytest.raises(ValueError, match="4-D"):
        grad_cam(model, torch.randn(1, 3, 8, 8), model[7])  # Flatten outputs (N, K)
    assert no_hooks(model) and all(m.training for m in model.modules())
