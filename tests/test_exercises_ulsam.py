"""The ULSAM chapter's exercise checks accept the right answers and reject the typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref import make_attention
from lightattn_ref.exercises import check_fold_depthwise, check_subspace_softmax, check_ulsam_output
from lightattn_ref.exercises.ulsam import (
    _FOLD_CASES,
    _fold_layers,
    reference_fold_depthwise,
    reference_subspace_softmax,
    reference_ulsam_output,
)


def softmax_right(u: Tensor) -> Tensor:
    n, g, h, w = u.shape
    return torch.softmax(u.flatten(2), dim=2).reshape(n, g, h, w)


def output_right(x: Tensor, maps: Tensor) -> Tensor:
    n, c, h, w = x.shape
    g = maps.shape[1]
    return x * (1 + maps.repeat_interleave(c // g, dim=1))


def test_softmax_accepts_the_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    check_subspace_softmax(softmax_right)
    assert capsys.readouterr().out.startswith("Correct:")


def test_references_match_the_package_module() -> None:
    """The checks' references are the package's ULSAM: same maps, same output."""
    torch.manual_seed(0)
    module = make_attention("ulsam", 12, groups=3).eval()
    x = torch.randn(2, 12, 5, 7)
    with torch.no_grad():
        z = torch.relu(module.bn_dws(module.conv_dws(x)))
        u = torch.relu(module.bn_point(module.conv_point(torch.max_pool2d(z, 3, 1, 1))))
        torch.testing.assert_close(reference_subspace_softmax(u), module.maps(x))
        torch.testing.assert_close(reference_ulsam_output(x, module.maps(x)), module(x))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda u: torch.softmax(u, dim=2), "softmax over H only"),  # the seed blog's text
        (lambda u: torch.softmax(u, dim=3), "softmax over W only"),
        (lambda u: torch.softmax(u, dim=1), "over the channel axis"),
        (lambda u: torch.sigmoid(u), "differ from the softmax over all H\\*W positions"),
        (lambda u: softmax_right(u)[:, :, :-1], "must keep the shape"),
        (lambda u: softmax_right(u).numpy(), r"fn\(u\) returned a value of type ndarray, not a tensor of shape \(2, 4, 5, 7\)"),
    ],
    ids=["over-H", "over-W", "over-channels", "sigmoid", "wrong-shape", "not-a-tensor"],
)
def test_softmax_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_subspace_softmax(wrong)


def test_output_accepts_the_right_answer(capsys: pytest.CaptureFixture[str]) -> None:
    check_ulsam_output(output_right)
    assert capsys.readouterr().out.startswith("Correct:")


def _per_channel_maps(x: Tensor, maps: Tensor) -> Tensor:
    """Wrong: scales channel k of each subspace by a different (shifted) map."""
    n, c, h, w = x.shape
    g = maps.shape[1]
    m = maps.repeat_interleave(c // g, dim=1)
    shift = torch.arange(c).remainder(c // g).view(1, c, 1, 1)
    return x * (1 + m * (1 + shift))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda x, m: x * m.repeat_interleave(x.shape[1] // m.shape[1], dim=1), "forgot the residual"),
        (lambda x, m: x * (1 + m.repeat(1, x.shape[1] // m.shape[1], 1, 1)), "map i % G"),
        (lambda x, m: x * (1 + m[:, :1]), "Every channel uses the first map"),
        (_per_channel_maps, "scaled differently"),
        (lambda x, m: x + m.repeat_interleave(x.shape[1] // m.shape[1], dim=1), "added the map to x"),
        (lambda x, m: 2 * x, "differs from map \\* x \\+ x"),
        (lambda x, m: x[:, :-1], "keeps the shape of x"),
    ],
    ids=[
        "forgotten-residual", "tiled-maps", "one-map-for-all", "map-not-shared", "added-map", "doubled", "wrong-shape"
    ],
)
def test_output_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_ulsam_output(wrong)


# --- Exercise 3: folding the depthwise convolution and its BatchNorm --------------------------


def fold_right(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    bn_scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return conv.weight.flatten() * bn_scale, (conv.bias - bn.running_mean) * bn_scale + bn.bias


def fold_by_probing(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
    """Another right answer: run the eval-mode layers on x = 0 and x = 1."""
    c = conv.in_channels
    shift = bn(conv(torch.zeros(1, c, 1, 1))).flatten()
    return bn(conv(torch.ones(1, c, 1, 1))).flatten() - shift, shift


@pytest.mark.parametrize("answer", [fold_right, fold_by_probing], ids=["formula", "probing"])
def test_fold_accepts_the_right_answer(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_fold_depthwise(answer)
    assert capsys.readouterr().out.startswith("Correct:")


def test_fold_reference_is_what_the_layers_and_the_package_compute() -> None:
    """The check's reference is the eval-mode layers' own affine map, and the package's folding."""
    for seed, (c, g, eps) in enumerate(_FOLD_CASES):
        conv, bn = _fold_layers(c, g, eps, seed)
        scale, shift = reference_fold_depthwise(conv, bn)
        x = torch.randn(2, c, 3, 5, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            torch.testing.assert_close(bn(conv(x)), scale.view(1, c, 1, 1) * x + shift.view(1, c, 1, 1))
        module = make_attention("ulsam", c, groups=g).eval()
        module.conv_dws, module.bn_dws = conv, bn
        package_scale, package_shift = module._folded_depthwise()
        torch.testing.assert_close(package_scale, scale)
        torch.testing.assert_close(package_shift, shift)


def _fold_with(scale_of, shift_of):
    """A folding answer built from two formulas of (w, b_dw, lambda, beta, mean, var, eps)."""

    def answer(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[Tensor, Tensor]:
        args = (conv.weight.flatten(), conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.eps)
        return scale_of(*args), shift_of(*args)

    return answer


def _scale(w, b, g, be, m, v, e):
    return w * g / torch.sqrt(v + e)


def _shift(w, b, g, be, m, v, e):
    return (b - m) * g / torch.sqrt(v + e) + be


def _std(v, e):
    return torch.sqrt(v + e)


def _scale_list(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[object, Tensor]:
    scale, shift = fold_right(conv, bn)
    return scale.tolist(), shift


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (_fold_with(lambda w, b, g, be, m, v, e: g / _std(v, e), _shift), "lambda / sqrt\\(var \\+ eps\\) alone"),
        (_fold_with(lambda w, b, g, be, m, v, e: w * g / torch.sqrt(v), _shift), "without eps"),
        (_fold_with(lambda w, b, g, be, m, v, e: w * g / (v + e), _shift), "divides by the variance"),
        (_fold_with(_scale, lambda w, b, g, be, m, v, e: be - m * g / _std(v, e)), "leaves out the convolution's"),
        (_fold_with(_scale, lambda w, b, g, be, m, v, e: b + be - m * g / _std(v, e)), "adds b_dw unscaled"),
        (_fold_with(_scale, lambda w, b, g, be, m, v, e: (b + m) * g / _std(v, e) + be), "adds the running mean"),
        (_fold_with(_scale, lambda w, b, g, be, m, v, e: (b - m) * g / torch.sqrt(v) + be), "shift divides by sqrt"),
        (_fold_with(_scale, lambda w, b, g, be, m, v, e: (b - m) * g + be), "your shift differs"),
        (_fold_with(lambda w, b, g, be, m, v, e: 2 * w, _shift), "your scale differs"),
        (lambda conv, bn: (conv.weight * bn.weight.view(-1, 1, 1, 1), bn.bias), r"shape \(12, 1, 1, 1\).*flatten"),
        (lambda conv, bn: fold_right(conv, bn)[0], "two tensors"),
        (_scale_list, "type list as scale, not a tensor of shape \\(12,\\)"),
    ],
    ids=[
        "no-conv-weight", "no-eps", "variance", "no-conv-bias", "unscaled-bias", "mean-added", "no-eps-in-shift",
        "other-shift", "other-scale", "unflattened", "one-output", "not-a-tensor",
    ],
)
def test_fold_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_fold_depthwise(wrong)
