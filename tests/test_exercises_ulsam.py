"""The ULSAM chapter's exercise checks accept the right answers and reject the typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lightattn_ref import make_attention
from lightattn_ref.exercises import check_subspace_softmax, check_ulsam_output
from lightattn_ref.exercises.ulsam import reference_subspace_softmax, reference_ulsam_output


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
