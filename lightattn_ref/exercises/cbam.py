"""Exercise checks for the CBAM chapter (notebooks/03_cbam.ipynb).

``check_channel_gate``: CBAM's channel gate, eq. cbam-channel,
a_ch = sigma(MLP(GAP(x)) + MLP(GMP(x))) with ONE shared MLP.
``check_spatial_pool``: the input of CBAM's spatial gate, eq. cbam-spatial-pool,
s_sp = [max over channels, mean over channels], in that order (the official code's; the
paper's eq. 3, eq. cbam-spatial-paper, puts the mean first).
``check_std_spatial_gate``: a variant of the spatial gate with a third map, the standard
deviation over the channels, and any odd kernel size k_sp: 3 k_sp^2 + 2 parameters.

Each check runs the reader's function on random inputs, compares it with the package's
``ChannelGate`` / ``SpatialGate``, prints one line when it is right and raises
``AssertionError`` with one sentence naming the mistake when it is wrong.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..attention.cbam import ChannelGate
from ._common import ATOL, as_tensor, call_answer, close, reader_check

__all__: list[str] = ["check_channel_gate", "check_spatial_pool", "check_std_spatial_gate"]

# (N, C, H, W, r): non-square maps, batch 1, H * W > 1 so that GAP and GMP differ
_GATE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 32, 5, 7, 8),
    (1, 64, 4, 4, 16),
    (3, 48, 6, 3, 4),
    (2, 16, 2, 9, 2),
    (4, 24, 3, 5, 3),
)
# (N, C, H, W): all four sizes differ, so pooling over a wrong axis changes the shape
_POOL_CASES: tuple[tuple[int, int, int, int], ...] = ((2, 8, 5, 7), (1, 3, 4, 6), (3, 16, 7, 5), (4, 5, 9, 3))


def _randomize(module: nn.Module, gen: torch.Generator) -> None:
    """Random weights and biases in [-1, 1): biases matter, and the ReLU cuts some units."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(2 * torch.rand(p.shape, generator=gen) - 1)


def _rows_seen(rows: Tensor, seen: list[Tensor]) -> bool:
    """True if every row of ``rows`` (N, C) was among the inputs the first MLP layer received."""
    if not seen:
        return False
    inputs = torch.cat(seen)
    return all(bool(torch.isclose(inputs, row, atol=ATOL).all(dim=1).any()) for row in rows)


def _diagnose_gate(answer: Tensor, x: Tensor, mlp: nn.Module, seen: list[Tensor]) -> str:
    """One sentence naming the mistake behind a wrong channel gate."""
    shape = list(x.shape)
    with torch.no_grad():
        avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
        m_avg, m_max = mlp(avg), mlp(mx)
    known = [
        (torch.sigmoid(m_avg), "the gate uses only the average-pooled vector, which is SE's gate: "
         "add MLP(GMP(x)) to MLP(GAP(x)) before the sigmoid."),
        (torch.sigmoid(m_max), "the gate uses only the max-pooled vector: "
         "add MLP(GAP(x)) to MLP(GMP(x)) before the sigmoid."),
        (torch.sigmoid(m_avg) + torch.sigmoid(m_max), "the sigmoid is applied to each branch before the sum, "
         "so gates reach up to 2: add the two MLP outputs first, then apply one sigmoid."),
        ((torch.sigmoid(m_avg) + torch.sigmoid(m_max)) / 2, "the gate averages two sigmoids, which is not "
         "sigma of the sum: add the two MLP outputs first, then apply one sigmoid."),
        (torch.sigmoid(m_avg) * torch.sigmoid(m_max), "the gate multiplies two sigmoids: "
         "add the two MLP outputs first, then apply one sigmoid."),
        (torch.sigmoid(mlp(avg + mx)), "the two pooled vectors are added before the MLP: pass each one "
         "through the MLP and add the outputs (the ReLU makes the two orders differ)."),
        (m_avg + m_max, "the sigmoid is missing: the gate must be sigma(MLP(GAP(x)) + MLP(GMP(x)))."),
    ]
    for candidate, message in known:
        if close(answer, candidate[:, :, None, None]):
            return message
    rows = sum(len(s) for s in seen)
    if rows == len(x) and _rows_seen(avg, seen):
        return ("the max-pooled vector never went through the MLP you were given: "
                "CBAM sends both pooled vectors through one shared MLP.")
    if rows == len(x) and _rows_seen(mx, seen):
        return ("the average-pooled vector never went through the MLP you were given: "
                "CBAM sends both pooled vectors through one shared MLP.")
    if _rows_seen(avg, seen) and not _rows_seen(mx, seen):
        return ("the second vector given to the MLP is not the global max: take the maximum over "
                "H and W together (amax over dims 2 and 3), once per sample and channel.")
    if _rows_seen(mx, seen) and not _rows_seen(avg, seen):
        return ("the first vector given to the MLP is not the global average: take the mean over "
                "H and W together (dims 2 and 3), once per sample and channel.")
    expected = torch.sigmoid(m_avg + m_max)[:, :, None, None]
    error = (answer - expected).abs().max().item()
    return (f"the gate differs from sigma(MLP(GAP(x)) + MLP(GMP(x))) by up to {error:.3g} for x of shape "
            f"{shape}: pool over H and W (dims 2 and 3) and check the order of the steps.")


@reader_check
def check_channel_gate(channel_gate: Callable[[Tensor, nn.Module], Tensor]) -> None:
    """Check a reader's CBAM channel gate against the package's ``ChannelGate``.

    Args:
        channel_gate: ``channel_gate(x, mlp) -> a_ch``. ``x`` has shape (N, C, H, W); ``mlp`` is an
            ``nn.Sequential(Linear(C, C // r), ReLU(), Linear(C // r, C))`` mapping (N, C) to
            (N, C). The answer must return a_ch = sigma(MLP(GAP(x)) + MLP(GMP(x))) of shape
            (N, C, 1, 1) (eq. cbam-channel), using the one MLP for both pooled vectors.

    Raises:
        AssertionError: with one sentence naming the mistake (average pooling only, separate
            MLPs, sigmoid before the sum, vectors summed before the MLP, wrong shape, ...).
    """
    for i, (n, c, h, w, r) in enumerate(_GATE_CASES):
        gen = torch.Generator().manual_seed(1000 + i)
        module = ChannelGate(c, reduction=r)
        _randomize(module, gen)
        mlp = nn.Sequential(module.fc1, nn.ReLU(), module.fc2)
        x = 2 * torch.randn(n, c, h, w, generator=gen) + 0.5
        seen: list[Tensor] = []
        first = module.fc1

        def record(layer: nn.Module, inputs: tuple[Tensor, ...], _out: Tensor) -> None:
            if layer is first:  # a deep copy of the MLP copies this hook too: ignore the copy
                seen.append(inputs[0].detach().reshape(-1, inputs[0].shape[-1]))

        handle = first.register_forward_hook(record)
        try:
            answer = call_answer(channel_gate, x.clone(), mlp)
        finally:
            handle.remove()
        answer = as_tensor(answer, (n, c, 1, 1)).float()
        if list(answer.shape) != [n, c, 1, 1]:
            raise AssertionError(
                f"for x of shape {[n, c, h, w]} the gate has shape {list(answer.shape)} instead of {[n, c, 1, 1]}: "
                f"pool over H and W (dims 2 and 3) and give the gate two trailing axes of size 1."
            )
        with torch.no_grad():
            expected = module.gate(x)
        if not close(answer, expected):
            raise AssertionError(_diagnose_gate(answer, x, mlp, seen))
    print(f"Correct: sigma(MLP(GAP(x)) + MLP(GMP(x))) with one shared MLP matches ChannelGate "
          f"for {len(_GATE_CASES)} random inputs.")


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
