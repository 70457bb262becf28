"""from_official / to_official on state dicts built from the documented official key layouts."""

from __future__ import annotations

import pytest
import torch

from conftest import randomize
from lightattn_ref import ATTENTION_NAMES, from_official, load_official, make_attention, to_official
from lightattn_ref.official import make_official

# (channels, options for our module, options for the official transcription)
CASES = {
    "se": (256, {}, {}),
    "eca": (256, {"kernel_size": 3}, {"kernel_size": 3}),  # the official default k
    "cbam": (256, {}, {}),
    "cbam_channel": (256, {}, {}),
    "sa": (256, {"groups": 64}, {"groups": 64}),
    "ulsam": (256, {"groups": 4}, {"groups": 4}),
    "coord": (256, {}, {}),
}

# the key names and shapes FACTS.md documents for each official state dict (C = 256)
OFFICIAL_KEYS = {
    "se": {"fc.0.weight": (16, 256), "fc.2.weight": (256, 16)},
    "eca": {"conv.weight": (1, 1, 3)},
    "cbam": {"ChannelGate.mlp.1.weight": (16, 256), "ChannelGate.mlp.1.bias": (16,),
             "ChannelGate.mlp.3.weight": (256, 16), "ChannelGate.mlp.3.bias": (256,),
             "SpatialGate.spatial.conv.weight": (1, 2, 7, 7), "SpatialGate.spatial.bn.weight": (1,),
             "SpatialGate.spatial.bn.bias": (1,), "SpatialGate.spatial.bn.running_mean": (1,),
             "SpatialGate.spatial.bn.running_var": (1,), "SpatialGate.spatial.bn.num_batches_tracked": ()},
    "cbam_channel": {"mlp.1.weight": (16, 256), "mlp.1.bias": (16,), "mlp.3.weight": (256, 16),
                     "mlp.3.bias": (256,)},
    "sa": {"cweight": (1, 2, 1, 1), "cbias": (1, 2, 1, 1), "sweight": (1, 2, 1, 1), "sbias": (1, 2, 1, 1),
           "gn.weight": (2,), "gn.bias": (2,)},
    "coord": {"conv1.weight": (8, 256, 1, 1), "conv1.bias": (8,), "bn1.weight": (8,), "bn1.bias": (8,),
              "bn1.running_mean": (8,), "bn1.running_var": (8,), "bn1.num_batches_tracked": (),
              "conv_h.weight": (256, 8, 1, 1), "conv_h.bias": (256,), "conv_w.weight": (256, 8, 1, 1),
              "conv_w.bias": (256,)},
}


def ulsam_official_keys(channels: int, groups: int) -> dict[str, tuple[int, ...]]:
    c = channels // groups
    keys = {}
    for i in range(groups):
        p = f"subspaces.{i}."
        keys |= {p + "conv_dws.weight": (c, 1, 1, 1), p + "conv_dws.bias": (c,),
                 p + "conv_point.weight": (1, c, 1, 1), p + "conv_point.bias": (1,)}
        for bn, n in (("bn_dws", c), ("bn_point", 1)):
            keys |= {f"{p}{bn}.{k}": (n,) for k in ("weight", "bias", "running_mean", "running_var")}
            keys[f"{p}{bn}.num_batches_tracked"] = ()
    return keys


OFFICIAL_KEYS["ulsam"] = ulsam_official_keys(256, 4)


def documented_state_dict(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict with exactly the documented official keys and shapes."""
    gen = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in OFFICIAL_KEYS[name].items():
        if key.endswith("num_batches_tracked"):
            sd[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            sd[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            sd[key] = torch.rand(shape, generator=gen) - 0.5
    return sd


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_transcription_has_the_documented_layout(name: str) -> None:
    channels, _, official_options = CASES[name]
    sd = make_official(name, channels, **official_options).state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == OFFICIAL_KEYS[name]


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("train", [False, True])
def test_from_official_loads_strictly_and_reproduces_outputs(name: str, train: bool) -> None:
    channels, options, official_options = CASES[name]
    official_sd = documented_state_dict(name)
    official = make_official(name, channels, **official_options)
    official.load_state_dict(official_sd, strict=True)
    ours = make_attention(name, channels, **options)
    ours.load_state_dict(from_official(name, official_sd), strict=True)
    x = torch.randn(3, channels, 9, 6)
    official.train(train), ours.train(train)
    torch.testing.assert_close(ours(x), official(x), rtol=1e-5, atol=1e-5)
    if train:  # the running statistics move the same way
        for (k, a), b in zip(ours.state_dict().items(), from_official(name, official.state_dict()).values()):
            torch.testing.assert_close(a, b, msg=k)


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_to_official_round_trip(name: str) -> None:
    official_sd = documented_state_dict(name, seed=3)
    back = to_official(name, from_official(name, official_sd))
    assert back.keys() == official_sd.keys()
    for key in official_sd:
        assert torch.equal(back[key], official_sd[key]), key


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_load_official_infers_options(name: str) -> None:
    channels = CASES[name][0]
    module = load_official(name, documented_state_dict(name), channels)
    assert not module.training
    if name == "eca":
        assert module.kernel_size == 3  # not psi(256) = 5: the weights decide
    if name == "se":  # built bias-free, like the port: no bias to carry or to train
        assert module.fc1.bias is None and module.fc2.bias is None
    x = torch.randn(2, channels, 5, 5)
    official = make_official(name, channels, **CASES[name][2])
    official.load_state_dict(documented_state_dict(name))
    torch.testing.assert_close(module(x), official.eval()(x))


def test_coordinate_attention_mobilenet_checkpoint_names() -> None:
    sd = documented_state_dict("coord")
    renamed = {k.replace("conv_h", "conv2").replace("conv_w", "conv3"): v for k, v in sd.items()}
    assert from_official("coord", renamed).keys() == make_attention("coord", 256).state_dict().keys()


def test_se_port_to_official_refuses_nonzero_biases() -> None:
    module = randomize(make_attention("se", 64))
    with pytest.raises(ValueError, match="bias"):
        to_official("se", module.state_dict())


def test_bad_official_state_dicts() -> None:
    with pytest.raises(ValueError, match="fc.0.weight"):
        from_official("se", {"fc.0.weight": torch.zeros(4, 64)})
    with pytest.raises(ValueError, match="subspaces"):
        from_official("ulsam", {"conv_dws.weight": torch.zeros(4, 1, 1, 1)})
    with pytest.raises(ValueError, match="name='bam'"):
        from_official("bam", {})


def test_cbam_channel_loads_the_official_cbam_without_spatial_gate() -> None:
    """The official CBAM(..., no_spatial=True) keeps its gate under ``ChannelGate.``: it loads too."""
    bare = documented_state_dict("cbam_channel")
    prefixed = {"ChannelGate." + key: value for key, value in bare.items()}
    ours = load_official("cbam_channel", prefixed, 256)
    reference = load_official("cbam_channel", bare, 256)
    x = torch.randn(2, 256, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(ours(x), reference(x), rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="Unexpected key"):  # a half-prefixed dict is not guessed at
        load_official("cbam_channel", {**bare, "ChannelGate.mlp.1.weight": bare["mlp.1.weight"]}, 256)
