"""Exercise check: a spatial gate with a third, standard-deviation map."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._common import as_tensor, call_answer, close, reader_check

# (k, N, C, H, W) for check_std_spatial_gate: odd kernel sizes other than 7 after the first, H != W,
# a map smaller than the kernel, and C = 1 last (its standard deviation is 0, or NaN when unbiased)
_STD_GATE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (7, 2, 16, 9, 12),
    (3, 3, 8, 5, 7),
    (5, 1, 32, 6, 4),
    (1, 2, 5, 3, 4),
    (9, 2, 6, 4, 6),
    (3, 2, 1, 5, 6),
)
_STD_MAP_NAMES: tuple[str, ...] = ("max", "mean", "std")


def _std_maps(x: Tensor, correction: int = 0) -> list[Tensor]:
    """[max, mean, std] over the channel axis, each of shape (N, 1, H, W)."""
    return [x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True),
            x.std(dim=1, keepdim=True, correction=correction)]


def _std_gate(maps: list[Tensor], conv: nn.Conv2d, bn: nn.BatchNorm2d, *, bn_mode: str = "eval",
              sigmoid: bool = True) -> Tensor:
    """sigma(BN(conv([maps]))) with the module's own weights; ``bn_mode`` "eval" (running statistics,
    the reference), "batch" (the batch's statistics) or "off" (no BatchNorm)."""
    k = conv.weight.shape[-1]
    z = F.conv2d(torch.cat(maps, dim=1), conv.weight, padding=(k - 1) // 2)
    if bn_mode != "off":
        stats = (bn.running_mean, bn.running_var) if bn_mode == "eval" else (None, None)
        z = F.batch_norm(z, *stats, bn.weight, bn.bias, bn_mode == "batch", 0.0, bn.eps)
    return torch.sigmoid(z) if sigmoid else z


def _diagnose_std_gate(y: Tensor, x: Tensor, conv: nn.Conv2d, bn: nn.BatchNorm2d) -> str:
    mx, mean, std = _std_maps(x)
    named = dict(zip(_STD_MAP_NAMES, (mx, mean, std)))
    known: list[tuple[Tensor, str]] = []
    for order in itertools.permutations(_STD_MAP_NAMES):
        if order != _STD_MAP_NAMES:
            known.append((x * _std_gate([named[m] for m in order], conv, bn),
                          f"the maps are in the order [{', '.join(order)}]: stack them as [max, mean, std], "
                          f"CBAM's two maps first and the new one last, since each filter belongs to one map."))
    known += [
        (x * _std_gate(_std_maps(x, correction=1), conv, bn), "the std map uses the unbiased standard deviation "
         "(divides by C - 1): use the population one, std(dim=1, correction=0), which is 0 for C = 1."),
        (x * _std_gate([mx, mean, std**2], conv, bn), "the third map is the variance over the channels: "
         "take its square root, the standard deviation."),
        (x * _std_gate([mx, mean, torch.sqrt(std**2 + bn.eps)], conv, bn), "the std map adds eps inside the "
         "square root: use the plain population standard deviation, std(dim=1, correction=0)."),
        (x * _std_gate([mx, mean, std], conv, bn, sigmoid=False),
         "the sigmoid is missing: the gate is sigma(BN(conv([max, mean, std])))."),
        (x * _std_gate([mx, mean, std], conv, bn, bn_mode="off"),
         "the BatchNorm is not applied: the gate is sigma(BN(conv([max, mean, std])))."),
        (x * _std_gate([mx, mean, std], conv, bn, bn_mode="batch"), "the BatchNorm uses the batch's statistics "
         "in eval mode: call the nn.BatchNorm2d module, which switches to its running statistics after .eval()."),
    ]
    for candidate, message in known:
        if close(y, candidate):
            return message
    error = (y - x * _std_gate([mx, mean, std], conv, bn)).abs().max().item()
    return (f"the output differs from sigma(BN(conv([max, mean, std]))) ⊙ x by up to {error:.3g} for x of shape "
            f"{list(x.shape)}: pool over the channel axis (dim 1), use the module's own convolution and "
            f"BatchNorm, and return the gated x.")


def _find_layers(module: nn.Module, k: int, what: str) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    convs = [m for m in module.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    if len(convs) != 1 or tuple(convs[0].weight.shape) != (1, 3, k, k):
        found = ", ".join(str(tuple(c.weight.shape)) for c in convs) or "none"
        raise AssertionError(f"{what} must hold one nn.Conv2d(3, 1, {k}) with a weight of shape (1, 3, {k}, {k}); "
                             f"found weights of shape: {found}.")
    if len(bns) != 1 or bns[0].num_features != 1 or not bns[0].affine:
        raise AssertionError(f"{what} must hold one nn.BatchNorm2d(1) with its scale and shift, "
                             f"after the convolution, as in CBAM's spatial gate.")
    return convs[0], bns[0]


@reader_check
def check_std_spatial_gate(module_cls: Callable[[int], nn.Module]) -> None:
    """Check a reader's spatial gate on three channel-pooled maps, [max, mean, std].

    Args:
        module_cls: ``module_cls(kernel_size)`` builds an ``nn.Module`` whose forward maps x of
            shape (N, C, H, W), for any C, to y = a_sp ⊙ x with
            a_sp = sigma(BN(conv([max_c x, mean_c x, std_c x]))) of shape (N, 1, H, W): std is the
            population standard deviation over the channels (correction=0), conv an
            ``nn.Conv2d(3, 1, k_sp, padding=(k_sp - 1) // 2, bias=False)``, BN an
            ``nn.BatchNorm2d(1)`` (eq. cbam-spatial with a third map). It has 3 k_sp^2 + 2
            parameters.

    The check builds the module for k_sp in 7, 3, 5, 1, 9, counts its parameters, writes random
    values into the convolution and the BatchNorm (weights, shift and running statistics),
    and compares the eval-mode output with the formula on shapes with H != W, a map smaller
    than the kernel and C = 1. Prints one line when it is right.

    Raises:
        AssertionError: with one sentence naming the mistake (a bias in the convolution, the
            std map or the BatchNorm missing, a fixed kernel size, padding that changes H x W,
            the maps in another order, the unbiased standard deviation, the gate returned
            instead of a_sp ⊙ x, ...).
    """
    for i, (k, n, c, h, w) in enumerate(_STD_GATE_CASES):
        what = f"{getattr(module_cls, '__name__', 'module_cls')}({k})"
        module = call_answer(module_cls, k, what=what)
        if not isinstance(module, nn.Module):
            raise AssertionError(f"{what} returned a value of type {type(module).__name__}, not an nn.Module.")
        count = sum(p.numel() for p in module.parameters() if p.requires_grad)
        want = 3 * k * k + 2
        if count != want:
            if count == want + 1:
                reason = "the convolution has a bias, which the BatchNorm's shift makes useless (bias=False)."
            elif count == 2 * k * k + 2:
                reason = ("that is CBAM's spatial gate: the third map, the standard deviation, "
                          "needs its own k_sp x k_sp filter.")
            elif count == 3 * k * k:
                reason = "the BatchNorm's scale and shift are missing: add nn.BatchNorm2d(1) after the convolution."
            elif k != 7 and count in (3 * 49 + 2, 3 * 49 + 3, 2 * 49 + 2):
                reason = "that is a 7 x 7 filter: use the kernel_size argument."
            else:
                reason = "a k_sp x k_sp filter for each of the three maps, and the BatchNorm's scale and shift."
            raise AssertionError(f"{what} has {count} parameters instead of {want}: {reason}")
        conv, bn = _find_layers(module, k, what)
        gen = torch.Generator().manual_seed(2500 + i)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) / k)
            bn.weight.copy_(torch.rand(1, generator=gen) + 0.5)
            bn.bias.copy_(torch.randn(1, generator=gen))
            bn.running_mean.copy_(0.3 * torch.randn(1, generator=gen))
            bn.running_var.copy_(torch.rand(1, generator=gen) + 0.5)
        module.eval()
        with torch.no_grad():
            size = list(conv(torch.zeros(1, 3, h, w)).shape[2:])
        if size != [h, w]:
            raise AssertionError(
                f"for k_sp = {k} the convolution turns {h} x {w} maps into {size[0]} x {size[1]}: pad it by "
                f"(k_sp - 1) // 2 = {(k - 1) // 2} so the gate keeps H x W."
            )
        x = 2 * torch.randn(n, c, h, w, generator=gen) + torch.randn(n, 1, h, w, generator=gen)
        x_copy = x.clone()
        y = call_answer(module, x, what="the module")
        if not torch.equal(x, x_copy):
            raise AssertionError("the module changed its input x in place: return a new tensor a_sp ⊙ x.")
        y = as_tensor(y, (n, c, h, w), "the module").float()
        with torch.no_grad():
            expected_gate = _std_gate(_std_maps(x), conv, bn)
            expected = x * expected_gate
        if list(y.shape) == [n, 1, h, w] and close(y, expected_gate):
            raise AssertionError("the module returns the gate a_sp; return the gated input a_sp ⊙ x instead.")
        if list(y.shape) != [n, c, h, w]:
            raise AssertionError(
                f"for k_sp = {k} and x of shape {[n, c, h, w]} the module returned shape {list(y.shape)}: pad "
                f"the convolution by (k_sp - 1) // 2 so the gate keeps H x W, and return a_sp ⊙ x."
            )
        if c == 1 and not bool(torch.isfinite(y).all()):
            raise AssertionError("the output is not finite for C = 1: the unbiased standard deviation divides by "
                                 "C - 1 = 0; use the population one, std(dim=1, correction=0), which is 0 there.")
        if not close(y, expected):
            with torch.no_grad():
                raise AssertionError(_diagnose_std_gate(y, x, conv, bn))
    sizes = sorted({case[0] for case in _STD_GATE_CASES})
    print(f"Correct: sigma(BN(conv([max, mean, std]))) ⊙ x with 3 k_sp^2 + 2 parameters, for k_sp in {sizes} "
          f"and {len(_STD_GATE_CASES)} input shapes.")
