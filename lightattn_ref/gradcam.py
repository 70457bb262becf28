"""Grad-CAM (Selvaraju et al., ICCV 2017): where in the image does the evidence for a class lie?

For a chosen layer with activations A in R^{K x h x w} and the logit y^c of class c::

    alpha_kappa^c = (1 / hw) sum_{i,j} d y^c / d A_kappa[i, j]   spatial mean of the gradient  (eq. gradcam-alpha)
    L^c           = ReLU( sum_kappa alpha_kappa^c A_kappa )      in R^{h x w}                  (eq. gradcam-map)

then L^c is upsampled (bilinear) to the input's H x W and divided by its maximum, so maps
are in [0, 1] and comparable between images. The ReLU keeps what speaks *for* class c.

One forward hook on the layer keeps A (and passes a copy on, so in-place ops after the layer
cannot change it); ``torch.autograd.grad`` gives d y^c / d A without writing into any
parameter's ``.grad`` (a training run's gradients are left alone).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["grad_cam"]


def grad_cam(model: nn.Module, x: Tensor, target_layer: nn.Module, class_idx: int | Tensor | None = None) -> Tensor:
    """Grad-CAM maps of ``model`` for images ``x`` at the output of ``target_layer``.

    Args:
        model: maps (N, C, H, W) to logits (N, num_classes). Run in eval mode here (so
            BatchNorm treats the images independently); every submodule's mode is restored.
        x: images (N, C, H, W).
        target_layer: a submodule of ``model`` whose output is a 4-D tensor (N, K, h, w),
            typically the last convolutional stage (e.g. ``model.layer4`` of a ResNet).
        class_idx: the class to explain: ``None`` for each image's predicted class, an ``int``
            for the same class in every image, or a (N,) tensor of classes.

    Returns: maps (N, H, W), float, in [0, 1] (all zero where nothing speaks for the class).
    The hook is removed afterwards, also when something fails.
    """
    modes = {m: m.training for m in model.modules()}
    captured: list[Tensor] = []

    def keep_output(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
        captured.append(output)
        # Pass a copy on: an in-place op after the layer (ReLU(inplace=True) after a BN) would
        # otherwise overwrite A, and we would explain the ReLU's output instead of the layer's.
        return output.clone() if isinstance(output, Tensor) else output

    handle = target_layer.register_forward_hook(keep_output)
    try:
        model.eval()
        with torch.enable_grad():  # works also when called under torch.no_grad()
            # x needs a gradient so A is in the graph even if the layers before it are frozen.
            logits = model(x.detach().requires_grad_(True))
            if not captured:
                raise ValueError("target_layer was not called in model(x); pass a submodule of model")
            if len(captured) > 1:
                raise ValueError(f"target_layer ran {len(captured)} times in one forward; pass a module used once")
            a = captured[0]
            if not isinstance(a, Tensor) or a.dim() != 4:
                raise ValueError("target_layer must output a 4-D tensor (N, K, h, w)")
            classes = _classes(class_idx, logits)
            # Summing over the batch is fine: in eval mode image n's logit depends on image n only.
            score = logits.gather(1, classes[:, None]).sum()
            (grad,) = torch.autograd.grad(score, a)
    finally:
        handle.remove()
        for m, mode in modes.items():
            m.training = mode

    alpha = grad.mean(dim=(2, 3), keepdim=True)  # (N, K, 1, 1), eq. gradcam-alpha
    cam = torch.relu((alpha * a.detach()).sum(dim=1, keepdim=True))  # (N, 1, h, w), eq. gradcam-map
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(torch.finfo(cam.dtype).tiny)
    return cam / peak[:, None, None]


def _classes(class_idx: int | Tensor | None, logits: Tensor) -> Tensor:
    """The class per image as a (N,) int64 tensor on the logits' device."""
    n = logits.shape[0]
    if class_idx is None:
        return logits.argmax(dim=1)
    if isinstance(class_idx, int):
        classes = torch.full((n,), class_idx, dtype=torch.long, device=logits.device)
    else:
        classes = class_idx.to(device=logits.device, dtype=torch.long)
    if classes.shape != (n,) or bool(((classes < 0) | (classes >= logits.shape[1])).any()):
        raise ValueError(f"class_idx must be an int or a ({n},) tensor of classes in 0..{logits.shape[1] - 1}")
    return classes
