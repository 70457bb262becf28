"""Exercise checks for the ULSAM chapter (notebooks/05_ulsam.ipynb).

The first two checks compare a reader's function with the book's equations on random inputs of
several shapes (always non-square, so a wrong axis cannot hide). The third one,
``check_fold_depthwise``, compares a reader's folding of the depthwise convolution and its
eval-mode BatchNorm into one scale and shift with what those two layers compute. When an answer
is wrong, each check names the typical mistake it matches.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..registry import make_attention
from ._common import as_tensor, call_answer, close as _close_default, reader_check

__all__: list[str] = ["check_fold_depthwise", "check_subspace_softmax", "check_ulsam_output"]

# (N, G, H, W) for the softmax check; (N, C, G, H, W) for the output check. H != W on purpose,
# and C / G >= 2, so that "the map of the wrong subspace" and "one map for all" can be told apart.
_SOFTMAX_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 4, 5, 7), (1, 2, 9, 6), (3, 8, 4, 11))
_OUTPUT_SHAPES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 8, 4, 5, 7),
    (1, 6, 2, 9, 6),
    (3, 16, 8, 4, 3),
)


def close(a: Tensor, b: Tensor) -> bool:
    # softmax maps are small numbers (about 1 / (H W)): a tighter tolerance than the other checks
    return _close_default(a, b, atol=1e-6, rtol=1e-5)


def reference_subspace_softmax(u: Tensor) -> Tensor:
    """Eq. ulsam-softmax: softmax of scores u (N, G, H, W) over all H*W positions of each map."""
    n, g, h, w = u.shape
    return torch.softmax(u.reshape(n, g, h * w), dim=2).reshape(n, g, h, w)


def reference_ulsam_output(x: Tensor, maps: Tensor) -> Tensor:
    """Eq. ulsam-out: y = a_g * x_g + x_g, map g shared by the C/G consecutive channels of subspace g."""
    n, c, h, w = x.shape
    g = maps.shape[1]
    x_sub = x.reshape(n, g, c // g, h, w)
    return (maps[:, :, None] * x_sub + x_sub).reshape(n, c, h, w)


@reader_check
def check_subspace_softmax(fn: Callable[[Tensor], Tensor]) -> None:
    """Check a reader's ``fn(u) -> maps``: the softmax of ULSAM's scores over all H*W positions.

    Args:
        fn: takes scores ``u`` of shape (N, G, H, W) (one score map per subspace) and returns
            the maps a of the same shape, each of which sums to 1 over its H*W positions
            (eq. ulsam-softmax).

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: a softmax over H only (columns sum to 1), over W only (rows sum
    to 1) or over the subspaces/channels (each position sums to 1 over G).
    """
    for seed, shape in enumerate(_SOFTMAX_SHAPES):
        n, g, h, w = shape
        gen = torch.Generator().manual_seed(100 + seed)
        u = 2.0 * torch.randn(shape, generator=gen)
        expected = reference_subspace_softmax(u)
        got = as_tensor(call_answer(fn, u.clone()), shape, "fn(u)")
        if got.shape != u.shape:
            raise AssertionError(
                f"fn(u) returned shape {tuple(got.shape)} for u of shape {shape}: the maps must keep "
                f"the shape (N, G, H, W) of the scores."
            )
        if close(got, expected):
            continue
        if close(got, torch.softmax(u, dim=2)):
            raise AssertionError(
                "Each column of your map sums to 1: that is a softmax over H only (the seed blog's "
                "wording), but ULSAM normalises over all H*W positions so that the whole map sums to 1."
            )
        if close(got, torch.softmax(u, dim=3)):
            raise AssertionError(
                "Each row of your map sums to 1: that is a softmax over W only, but ULSAM normalises "
                "over all H*W positions so that the whole map sums to 1."
            )
        if close(got, torch.softmax(u, dim=1)):
            raise AssertionError(
                "Your maps sum to 1 at each position across the G subspaces: that is a softmax over "
                "the channel axis, but ULSAM normalises each subspace's map over its H*W positions."
            )
        total = float(got.sum(dim=(2, 3)).mean())
        raise AssertionError(
            f"For scores of shape {shape} your maps differ from the softmax over all H*W positions "
            f"(they sum to {total:.4g} per map instead of 1, max difference "
            f"{float((got - expected).abs().max()):.3g})."
        )
    print(f"Correct: each map is a softmax over all H*W positions for {len(_SOFTMAX_SHAPES)} random shapes.")


@reader_check
def check_ulsam_output(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """Check a reader's ``fn(x, maps) -> y``: ULSAM's output, eq. ulsam-out.

    Args:
        fn: takes x of shape (N, C, H, W) and maps of shape (N, G, H, W) and returns
            y = a_g * x_g + x_g for every subspace g, where subspace g holds the C/G consecutive
            channels g*C/G ... (g+1)*C/G - 1 and all of them are scaled by the same map a_g.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: the forgotten residual (+ x), x + map instead of map * x + x,
    the map of the wrong subspace
    (tiled with ``repeat`` instead of chunked), one map for all subspaces, or a map that is not
    shared by the channels of its subspace.
    """
    for seed, (n, c, g, h, w) in enumerate(_OUTPUT_SHAPES):
        gen = torch.Generator().manual_seed(200 + seed)
        x = torch.randn(n, c, h, w, generator=gen)
        x = x + 0.5 * x.sign()  # |x| >= 0.5, so y / x is well defined
        maps = reference_subspace_softmax(3.0 * torch.randn(n, g, h, w, generator=gen))
        expected = reference_ulsam_output(x, maps)
        got = as_tensor(call_answer(fn, x.clone(), maps.clone()), (n, c, h, w), "fn(x, maps)")
        if got.shape != x.shape:
            raise AssertionError(
                f"fn(x, maps) returned shape {tuple(got.shape)} for x of shape {(n, c, h, w)}: ULSAM "
                f"keeps the shape of x."
            )
        if close(got, expected):
            continue
        sub = c // g
        x_sub = x.reshape(n, g, sub, h, w)
        if close(got, (maps[:, :, None] * x_sub).reshape(n, c, h, w)):
            raise AssertionError(
                "You returned map * x and forgot the residual: ULSAM's output is map * x + x, so a "
                "map of zeros leaves x unchanged instead of erasing it."
            )
        if close(got, x * (1 + maps.repeat(1, sub, 1, 1))):
            raise AssertionError(
                f"Channel i uses map i % G (maps tiled with repeat), but subspaces are consecutive "
                f"chunks along C: channel i belongs to subspace i // (C/G), e.g. channels 0..{sub - 1} "
                f"share map 0."
            )
        if close(got, x * (1 + maps[:, :1])):
            raise AssertionError(
                "Every channel uses the first map: each of the G subspaces has its own map, shared only "
                "by that subspace's C/G channels."
            )
        if close(got, (x_sub + maps[:, :, None]).reshape(n, c, h, w)):
            raise AssertionError(
                "You added the map to x (x + map): ULSAM multiplies first and then adds the input, "
                "out = map * x + x."
            )
        ratio = (got.reshape(n, g, sub, h, w) / x_sub) - 1  # the map each channel was scaled by
        if not torch.allclose(ratio, ratio[:, :, :1].expand_as(ratio), rtol=1e-4, atol=1e-6):
            raise AssertionError(
                "Channels of the same subspace are scaled differently: the subspace's one map a_g must "
                "be shared by all its C/G channels (out = a_g * x_c + x_c for every channel c in it)."
            )
        raise AssertionError(
            f"For x of shape {(n, c, h, w)} and G={g} your output differs from map * x + x (max "
            f"difference {float((got - expected).abs().max()):.3g})."
        )
    print(
        f"Correct: out = map * x + x with each subspace's map shared by its channels, "
        f"for {len(_OUTPUT_SHAPES)} random shapes."
    )


# (C, G, BatchNorm eps) for the folding check: the package's default eps first, then large ones,
# so that a forgotten eps changes the scale by far more than the tolerance.
_FOLD_CASES: tuple[tuple[int, int, float], ...] = ((12, 4, 1e-5), (8, 2, 0.1), (20, 5, 0.5))


def reference_fold_depthwise(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """(scale, shift) = (w~, b~), each (C,), with BN(w_dw x + b_dw) = w~ x + b~ per channel for an
    eval-mode BatchNorm (chapter 05).

    w~ = w_dw lambda / sqrt(var + eps) and b~ = (b_dw - mean) lambda / sqrt(var + eps) + beta.
    """
    assert conv.bias is not None and bn.running_mean is not None and bn.running_var is not None
    bn_scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight.flatten() * bn_scale, (conv.bias - bn.running_mean) * bn_scale + bn.bias


def _fold_layers(channels: int, groups: int, eps: float, seed: int) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    """A package ULSAM's ``conv_dws`` and ``bn_dws`` with random weights and statistics, in eval mode.

    Weights of both signs and variances from 0.05 to 2, so that sqrt(var), var and var + eps
    all give different numbers; means away from 0 so that a wrong sign shows.
    """
    module = make_attention("ulsam", channels, groups=groups).eval()
    conv, bn = module.conv_dws, module.bn_dws
    bn.eps = eps
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        conv.weight.copy_(torch.rand(conv.weight.shape, generator=gen) * 3 - 1.5)
        conv.bias.copy_(torch.rand(channels, generator=gen) * 2 - 1)
        bn.weight.copy_(torch.rand(channels, generator=gen) * 3 - 1.5)
        bn.bias.copy_(torch.rand(channels, generator=gen) * 2 - 1)
        bn.running_mean.copy_(torch.rand(channels, generator=gen) + 0.5)
        bn.running_var.copy_(torch.rand(channels, generator=gen) * 1.95 + 0.05)
    return conv, bn


@reader_check
def check_fold_depthwise(fn: Callable[[nn.Conv2d, nn.BatchNorm2d], tuple[Tensor, Tensor]]) -> None:
    """Check a reader's ``fn(conv, bn) -> (scale, shift)``: ULSAM's depthwise step folded into one affine map.

    Args:
        fn: takes a depthwise 1x1 convolution ``conv`` (ULSAM's ``conv_dws``: weight (C, 1, 1, 1),
            bias (C,)) and the BatchNorm after it (``bn_dws``), both in eval mode, and returns
            ``(scale, shift)``, each of shape (C,), with BN(w_dw x + b_dw) = scale x + shift for
            every channel: scale = w_dw lambda / sqrt(var + eps) and
            shift = (b_dw - mean) lambda / sqrt(var + eps) + beta.

    Prints one line when ``fn`` is right. Raises ``AssertionError`` with one sentence when it
    is not, naming the mistake: a scale without the depthwise weight, a forgotten eps, a
    division by the variance instead of the standard deviation, a shift without the
    convolution's bias, a bias that skips BatchNorm's scale, or the running mean added
    instead of subtracted.
    """
    for seed, (c, g, eps) in enumerate(_FOLD_CASES):
        conv, bn = _fold_layers(c, g, eps, 500 + seed)
        result = call_answer(fn, copy.deepcopy(conv), copy.deepcopy(bn), what="fn(conv, bn)")
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            raise AssertionError("fn(conv, bn) must return two tensors, (scale, shift).")
        got: list[Tensor] = []
        for name, value in zip(("scale", "shift"), result):
            if not isinstance(value, Tensor):
                raise AssertionError(
                    f"fn(conv, bn) returned a value of type {type(value).__name__} as {name}, not a tensor "
                    f"of shape ({c},)."
                )
            value = value.detach()
            if tuple(value.shape) != (c,):
                hint = " (flatten it: conv.weight has shape (C, 1, 1, 1))" if value.numel() == c else ""
                raise AssertionError(
                    f"{name} has shape {tuple(value.shape)} for C={c}: return it as a 1-D tensor of shape "
                    f"({c},){hint}."
                )
            got.append(value.to(torch.float32))
        scale, shift = got
        w, b_dw = conv.weight.detach().flatten(), conv.bias.detach()
        lam, beta = bn.weight.detach(), bn.bias.detach()
        mean, var = bn.running_mean, bn.running_var
        expected_scale, expected_shift = reference_fold_depthwise(conv, bn)
        expected_scale, expected_shift = expected_scale.detach(), expected_shift.detach()
        bn_scale = lam / torch.sqrt(var + eps)
        if not _close_default(scale, expected_scale):
            if _close_default(scale, bn_scale):
                raise AssertionError(
                    "Your scale is BatchNorm's lambda / sqrt(var + eps) alone: the depthwise weight w_dw "
                    "multiplies x before BatchNorm, so it is part of the scale too."
                )
            if _close_default(scale, w * lam / torch.sqrt(var)):
                raise AssertionError(
                    f"Your scale divides by sqrt(var) without eps: BatchNorm divides by sqrt(var + eps), "
                    f"and this BatchNorm has eps = {eps:g} (read it from bn.eps)."
                )
            if _close_default(scale, w * lam / (var + eps)) or _close_default(scale, w * lam / var):
                raise AssertionError(
                    "Your scale divides by the variance: BatchNorm divides by the standard deviation, "
                    "sqrt(var + eps)."
                )
            raise AssertionError(
                f"For C={c} your scale differs from w_dw * lambda / sqrt(var + eps) (max difference "
                f"{float((scale - expected_scale).abs().max()):.3g})."
            )
        if _close_default(shift, expected_shift):
            continue
        if _close_default(shift, beta - mean * bn_scale):
            raise AssertionError(
                "Your shift leaves out the convolution's bias b_dw: BatchNorm sees w_dw x + b_dw, so "
                "shift = (b_dw - mean) * lambda / sqrt(var + eps) + beta."
            )
        if _close_default(shift, b_dw + beta - mean * bn_scale):
            raise AssertionError(
                "Your shift adds b_dw unscaled: b_dw goes through BatchNorm with x, so it is multiplied "
                "by lambda / sqrt(var + eps) too."
            )
        if _close_default(shift, (b_dw + mean) * bn_scale + beta):
            raise AssertionError(
                "Your shift adds the running mean: BatchNorm subtracts it, "
                "shift = (b_dw - mean) * lambda / sqrt(var + eps) + beta."
            )
        if _close_default(shift, (b_dw - mean) * lam / torch.sqrt(var) + beta):
            raise AssertionError(
                f"Your shift divides by sqrt(var) without eps: BatchNorm divides by sqrt(var + eps), "
                f"and this BatchNorm has eps = {eps:g} (read it from bn.eps)."
            )
        raise AssertionError(
            f"For C={c} your scale is right but your shift differs from (b_dw - mean) * lambda / "
            f"sqrt(var + eps) + beta (max difference {float((shift - expected_shift).abs().max()):.3g})."
        )
    print(
        f"Correct: BN(w_dw x + b_dw) = scale * x + shift for {len(_FOLD_CASES)} random depthwise "
        f"convolutions and BatchNorms, with eps from {min(e for *_, e in _FOLD_CASES):g} to "
        f"{max(e for *_, e in _FOLD_CASES):g}."
    )
