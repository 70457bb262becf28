"""Backbones: torchvision-equal counts and keys, published attention counts, placement, per-stage options."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from lightattn_ref.models import attention_modules, mobilenet_v2, resnet18, resnet50
from lightattn_ref.registry import ATTENTION_NAMES, make_attention

RESNET18, RESNET50, MOBILENET_V2 = 11_689_512, 25_557_032, 3_504_872  # torchvision

# channels seen by the attention module of each block, written out independently of the models
RESNET50_CHANNELS = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
RESNET50_STAGE = [0] * 3 + [1] * 4 + [2] * 6 + [3] * 3
MBV2_HIDDEN = [96, 144, 144, 192, 192, 192] + [384] * 4 + [576] * 3 + [960] * 3  # the 16 t=6 blocks
MBV2_OUT = [16, 24, 24, 32, 32, 32] + [64] * 4 + [96] * 3 + [160] * 3 + [320]  # all 17 blocks

# options that let every module fit every width (SA's default groups=64 needs C % 128 == 0)
SMALL_OPTIONS = {"resnet18": {"sa": {"groups": 32}}, "mobilenet_v2": {"sa": {"groups": 8}}}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# per-module parameter formulas (FACTS.md)
def se(c: int, r: int = 16) -> int:
    return 2 * c * (c // r) + c // r + c


def cbam(c: int, r: int = 16) -> int:
    return se(c, r) + 98 + 2


def sa(c: int, g: int = 64) -> int:
    return 3 * c // g


def coord(c: int, reduction: int = 32) -> int:
    mip = max(8, c // reduction)
    return 3 * c * mip + 3 * mip + 2 * c


def test_plain_counts_equal_torchvision() -> None:
    assert n_params(resnet18()) == RESNET18
    assert n_params(resnet50()) == RESNET50
    assert n_params(mobilenet_v2()) == MOBILENET_V2


def test_plain_state_dict_keys_follow_torchvision() -> None:
    r18, r50, mb = resnet18().state_dict(), resnet50().state_dict(), mobilenet_v2().state_dict()
    assert (len(r18), len(r50), len(mb)) == (122, 320, 314)  # torchvision's key counts
    for key in ["conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer2.0.downsample.0.weight",
                "layer2.0.downsample.1.running_var", "layer4.2.bn3.running_var", "fc.weight", "fc.bias"]:
        assert key in r50, key
    assert "layer1.0.downsample.0.weight" not in r18 and "layer2.0.downsample.1.weight" in r18
    for key in ["features.0.0.weight", "features.1.conv.0.0.weight", "features.1.conv.2.weight",
                "features.2.conv.3.running_var", "features.18.1.weight", "classifier.1.weight"]:
        assert key in mb, key
    assert not any("attention" in k for k in [*r18, *r50, *mb])


def test_attention_adds_only_keys_so_plain_checkpoints_load() -> None:
    plain = mobilenet_v2().state_dict()
    for model in [mobilenet_v2("coord"), mobilenet_v2("eca")]:
        missing, unexpected = model.load_state_dict(plain, strict=False)
        assert unexpected == [] and missing and all(".attention." in k for k in missing)


@pytest.mark.parametrize(
    ("attention", "options", "added", "published_total"),
    [
        ("se", {}, sum(se(c) for c in RESNET50_CHANNELS), 28_088_024),
        ("cbam", {}, sum(cbam(c) for c in RESNET50_CHANNELS), 28_089_624),
        ("sa", {}, sum(sa(c) for c in RESNET50_CHANNELS), RESNET50 + 708),
        ("eca", {"kernel_size": (3, 5, 5, 7)}, sum((3, 5, 5, 7)[s] for s in RESNET50_STAGE), RESNET50 + 80),
    ],
)
def test_resnet50_published_counts(attention: str, options: dict, added: int, published_total: int) -> None:
    assert RESNET50 + added == published_total  # the formulas reproduce the published figure
    assert n_params(resnet50(attention, **options)) == published_total


def test_resnet50_per_stage_kernel_sizes_reach_the_blocks() -> None:
    modules = attention_modules(resnet50("eca", kernel_size=(3, 5, 5, 7)))
    assert list(modules)[0] == "layer1.0.attention" and len(modules) == 16
    assert [n_params(m) for m in modules.values()] == [(3, 5, 5, 7)[s] for s in RESNET50_STAGE]
    sa_counts = [n_params(m) for m in attention_modules(resnet50("sa")).values()]
    assert sa_counts == [12] * 3 + [24] * 4 + [48] * 6 + [96] * 3


def test_mobilenet_v2_published_counts() -> None:
    assert MOBILENET_V2 + sum(coord(c) for c in MBV2_HIDDEN) == 3_950_648
    assert n_params(mobilenet_v2("coord")) == 3_950_648
    eca_k = [1 if c < 96 else 3 for c in MBV2_OUT]  # official rule: k=1 below 96 output channels
    assert sum(eca_k) == 31
    model = mobilenet_v2("eca", kernel_size=(1, 1, 1, 1, 3, 3, 3))
    assert n_params(model) == MOBILENET_V2 + 31
    assert [n_params(m) for m in attention_modules(model).values()] == eca_k


def attention_input_channels(model: nn.Module, x: torch.Tensor) -> list[int]:
    seen: list[int] = []
    for m in attention_modules(model).values():
        m.register_forward_pre_hook(lambda _, args: seen.append(args[0].shape[1]))
    model(x)
    return seen


def test_mobilenet_v2_placement_widths() -> None:
    x = torch.randn(2, 3, 32, 32)
    coord_model, eca_model = mobilenet_v2("coord"), mobilenet_v2("eca")
    assert "features.1.attention" not in attention_modules(coord_model)  # the t=1 block has none
    assert "features.1.attention" in attention_modules(eca_model)
    assert attention_input_channels(coord_model, x) == MBV2_HIDDEN  # after the depthwise conv
    assert attention_input_channels(eca_model, x) == MBV2_OUT  # after the projection


def test_resnet_placement_after_last_bn_before_add() -> None:
    model = resnet18("se").eval()
    block = model.layer2[0]
    seen: dict[str, torch.Tensor] = {}
    block.bn2.register_forward_hook(lambda m, i, o: seen.__setitem__("bn2", o))
    block.attention.register_forward_pre_hook(lambda m, args: seen.__setitem__("att_in", args[0]))
    block.attention.register_forward_hook(lambda m, i, o: seen.__setitem__("att_out", o))
    block.register_forward_pre_hook(lambda m, args: seen.__setitem__("x", args[0]))
    block.register_forward_hook(lambda m, i, o: seen.__setitem__("y", o))
    model(torch.randn(2, 3, 64, 64))
    assert seen["att_in"] is seen["bn2"]
    expected = torch.relu(seen["att_out"] + block.downsample(seen["x"]))
    torch.testing.assert_close(seen["y"], expected)


def test_attention_keeps_its_own_init() -> None:
    # the backbone's init (BN weight 1) must not overwrite e.g. CBAM's zero spatial-BN weight
    model = resnet18("cbam")
    for m, c in zip(attention_modules(model).values(), [64] * 2 + [128] * 2 + [256] * 2 + [512] * 2):
        ours = [b.weight for b in m.modules() if isinstance(b, nn.BatchNorm2d)]
        fresh = [b.weight for b in make_attention("cbam", c).modules() if isinstance(b, nn.BatchNorm2d)]
        assert len(ours) == len(fresh) and all(torch.equal(a, b) for a, b in zip(ours, fresh))


def test_torchvision_init() -> None:
    model = mobilenet_v2()
    fc = model.classifier[1]
    assert torch.all(fc.bias == 0) and abs(fc.weight.std().item() - 0.01) < 0.001
    bns = [m for m in resnet18().modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.all(b.weight == 1) and torch.all(b.bias == 0) for b in bns)
    conv = resnet50().layer3[0].conv2  # kaiming normal, fan_out = 256 * 3 * 3, gain sqrt(2)
    assert abs(conv.weight.std().item() - (2 / (256 * 9)) ** 0.5) < 0.002


@pytest.mark.parametrize("backbone", [resnet18, mobilenet_v2], ids=["resnet18", "mobilenet_v2"])
@pytest.mark.parametrize("attention", [None, *ATTENTION_NAMES])
def test_forward_backward(backbone: Callable[..., nn.Module], attention: str | None) -> None:
    torch.manual_seed(0)
    options = SMALL_OPTIONS[backbone.__name__].get(attention, {})
    model = backbone(attention, num_classes=10, **options)
    y = model(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10)
    y.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    assert len(attention_modules(model)) == (0 if attention is None else 8 if backbone is resnet18
                                             else 17 if attention == "eca" else 16)


def test_resnet50_forward_with_attention() -> None:
    model = resnet50("eca", num_classes=10, kernel_size=(3, 5, 5, 7))
    y = model(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10)
    y.sum().backward()


def test_per_stage_length_is_validated() -> None:
    with pytest.raises(ValueError, match=r"kernel_size.*expected.*4"):
        resnet50("eca", kernel_size=(3, 5, 7))
    with pytest.raises(ValueError, match=r"reduction.*expected.*4"):
        resnet18("se", reduction=[16] * 5)
    with pytest.raises(ValueError, match=r"kernel_size.*expected.*7"):
        mobilenet_v2("eca", kernel_size=(1, 3, 3, 3))


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="nope"):
        resnet18("nope")  # the registry's error
    with pytest.raises(ValueError, match="attention=None"):
        resnet18(reduction=8)  # an option without a module would be silently ignored
    with pytest.raises(ValueError, match="num_classes"):
        mobilenet_v2(num_classes=0)
