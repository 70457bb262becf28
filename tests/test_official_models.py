"""load_official_model: networks saved as the official training scripts save them load into our
backbones and give the official network's logits; checkpoints that do not fit fail clearly."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref.models import load_official_model
from lightattn_ref.models.official_checkpoints import OFFICIAL_ARCHS, SkippedKeys

from _official_networks import OFFICIAL_NETWORKS, eca_mobilenet_v2, randomize_network

# Parameters of the official networks. SE: senet.pytorch's bias-free port, i.e. the 28,088,024 of
# SE-ResNet-50 with biases minus the 16,048 biases of its 16 SE blocks.
OFFICIAL_PARAMS = {
    "se_resnet50": 28_071_976,
    "eca_resnet50": 25_557_112,
    "eca_mobilenet_v2": 3_504_903,
    "sa_resnet50": 25_557_740,
    "cbam_resnet50": 28_089_624,
}


Official = Callable[[str], nn.Module]  # arch -> the official network with random weights


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def input_for(arch: str) -> Tensor:
    """1 x 3 x 64 x 64, except CBAM: its official ResNet pools with AvgPool2d(7), so it needs the
    7 x 7 final maps of a 224 x 224 input."""
    size = 224 if arch == "cbam_resnet50" else 64
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(7))


@pytest.fixture(scope="module")
def official() -> Official:
    """The official network of an arch with random weights and BN statistics, built once per module."""
    cache: dict[str, nn.Module] = {}

    def get(arch: str) -> nn.Module:
        if arch not in cache:
            cache[arch] = randomize_network(OFFICIAL_NETWORKS[arch](), seed=OFFICIAL_ARCHS.index(arch))
        return cache[arch]

    return get


def saved_by_script(net: nn.Module, arch: str) -> dict[str, object]:
    """What the official scripts save: DataParallel's ``module.`` keys inside a dict."""
    return {"epoch": 1, "arch": arch, "state_dict": {"module." + k: v for k, v in net.state_dict().items()}}


def test_archs_are_the_released_networks() -> None:
    assert OFFICIAL_ARCHS == tuple(OFFICIAL_NETWORKS) == tuple(OFFICIAL_PARAMS)


@pytest.mark.parametrize("arch", OFFICIAL_ARCHS)
def test_loads_with_the_official_logits(arch: str, official: Official, tmp_path: Path) -> None:
    net = official(arch)
    path = tmp_path / f"{arch}.pth.tar"
    torch.save(saved_by_script(net, arch), path)
    from_path = load_official_model(arch, str(path))
    from_mapping = load_official_model(arch, net.state_dict())  # a bare state dict, no prefix
    x = input_for(arch)
    with torch.no_grad():
        expected = net(x)
        for model in (from_path, from_mapping):
            assert not model.training
            torch.testing.assert_close(model(x), expected, rtol=1e-4, atol=1e-4)
    assert expected.std() > 0.1  # random weights, not a trivially constant output


@pytest.mark.parametrize("arch", OFFICIAL_ARCHS)
def test_parameter_counts_equal_the_official_networks(arch: str, official: Official) -> None:
    ours = load_official_model(arch, official(arch).state_dict())
    print(f"{arch}: official {n_params(official(arch)):,}, ours {n_params(ours):,}, "
          f"expected {OFFICIAL_PARAMS[arch]:,}")
    assert n_params(official(arch)) == n_params(ours) == OFFICIAL_PARAMS[arch]


def test_eca_kernel_sizes_are_read_from_the_checkpoint() -> None:
    # ECANet's earlier eca_mobilenetv2.py used k = 1 for c <= 96: the 96-channel stage gets k = 1
    net = randomize_network(eca_mobilenet_v2(k_one_up_to=96), seed=11)
    model = load_official_model("eca_mobilenet_v2", saved_by_script(net, "eca_mobilenet_v2"))
    assert model.state_dict()["features.11.attention.conv.weight"].shape == (1, 1, 1)
    x = input_for("eca_mobilenet_v2")
    with torch.no_grad():
        torch.testing.assert_close(model(x), net(x), rtol=1e-4, atol=1e-4)


def test_eca_kernel_sizes_must_agree_within_a_stage(official: Official) -> None:
    sd = dict(official("eca_mobilenet_v2").state_dict())
    sd["features.3.conv.4.conv.weight"] = torch.zeros(1, 1, 3)  # stage 2: features.2 has k = 1
    with pytest.raises(ValueError, match=r"stage 2.*features\.2\.conv\.4\.conv\.weight.*k=1.*k=3"):
        load_official_model("eca_mobilenet_v2", sd)


def test_wrong_pairing_names_the_arch_and_keys(official: Official) -> None:
    with pytest.raises(ValueError) as err:
        load_official_model("eca_resnet50", saved_by_script(official("cbam_resnet50"), "resnet"))
    message = str(err.value)
    assert "arch='eca_resnet50'" in message
    assert "layer1.0.attention.conv.weight" in message  # missing
    assert "layer1.0.cbam.ChannelGate.mlp.1.weight" in message  # unexpected
    assert "arch='cbam_resnet50'" in message  # what the keys look like
    assert "strict" in message and "Error(s) in loading state_dict" not in message


def test_mobilenet_checkpoint_for_a_resnet_names_keys(official: Official) -> None:
    match = r"arch='sa_resnet50'.*missing.*'conv1\.weight'.*unexpected.*'features\."
    with pytest.raises(ValueError, match=match):
        load_official_model("sa_resnet50", official("eca_mobilenet_v2").state_dict())


def test_unknown_arch_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="arch='resnet50'") as err:
        load_official_model("resnet50", {})
    assert all(arch in str(err.value) for arch in OFFICIAL_ARCHS)


def test_shape_mismatch_names_the_key_and_both_shapes(official: Official) -> None:
    sd = dict(official("se_resnet50").state_dict())
    sd["fc.weight"], sd["fc.bias"] = torch.zeros(10, 2048), torch.zeros(10)  # fine-tuned to 10 classes
    with pytest.raises(ValueError, match=r"arch='se_resnet50'.*'fc\.weight'.*\(10, 2048\).*\(1000, 2048\)"):
        load_official_model("se_resnet50", sd)


def test_strict_false_loads_what_fits(official: Official) -> None:
    sd = official("cbam_resnet50").state_dict()
    model, skipped = load_official_model("se_resnet50", sd, strict=False)
    assert isinstance(skipped, SkippedKeys) and not model.training
    assert "layer1.0.attention.fc1.weight" in skipped.missing
    assert "layer1.0.cbam.SpatialGate.spatial.conv.weight" in skipped.unexpected
    assert skipped.mismatched == []
    torch.testing.assert_close(model.state_dict()["layer4.2.conv3.weight"], sd["layer4.2.conv3.weight"])


def test_checkpoints_without_num_batches_tracked_load(official: Official) -> None:
    # saved before PyTorch 0.4.1, whose BatchNorm had no such buffer
    sd = {k: v for k, v in official("sa_resnet50").state_dict().items()
          if not k.endswith("num_batches_tracked")}
    model = load_official_model("sa_resnet50", sd)
    torch.testing.assert_close(model.state_dict()["layer3.5.attention.cweight"], sd["layer3.5.sa.cweight"])


def test_bad_checkpoints_name_the_argument(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="checkpoint must be a path"):
        load_official_model("sa_resnet50", 3)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="'epoch' is a int, not a tensor"):
        load_official_model("sa_resnet50", {"epoch": 1, "model": {}})
    path = tmp_path / "with_args.pth.tar"
    torch.save({"state_dict": {"fc.bias": torch.zeros(1000)}, "args": argparse.Namespace(lr=0.1)}, path)
    with pytest.raises(ValueError, match="weights_only=True"):
        load_official_model("sa_resnet50", path)
