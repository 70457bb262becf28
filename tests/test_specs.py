"""The one table: every registry name has one entry, and the registry, converters and cost read it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import randomize
from lightattn_ref import ATTENTION_NAMES, from_official, load_official, make_attention, to_official
from lightattn_ref.official import make_official
from lightattn_ref.specs import SPECS, AttentionSpec, name_of, spec

OFFICIAL = [name for name, entry in SPECS.items() if entry.official is not None]


def test_every_book_name_and_the_sa_variant_have_an_entry():
    assert set(ATTENTION_NAMES) | {"sa_conv"} == set(SPECS)
    assert all(entry.name == name for name, entry in SPECS.items())


@pytest.mark.parametrize("name", list(SPECS))
def test_make_attention_builds_the_class_of_the_entry_and_name_of_inverts_it(name):
    module = make_attention(name, 256)
    assert type(module) is SPECS[name].build
    assert name_of(module) == name


@pytest.mark.parametrize("name", OFFICIAL)
@pytest.mark.parametrize("channels", [128, 256])
def test_official_weights_load_and_give_the_official_outputs(name, channels):
    options, _ = SPECS[name].fallback(channels) or ({}, "")
    reference = randomize(make_official(name, channels, **options)).eval()
    ours = load_official(name, reference.state_dict(), channels)
    x = torch.randn(2, channels, 9, 7, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), reference(x), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", OFFICIAL)
def test_to_official_inverts_from_official(name):
    official_sd = randomize(make_official(name, 256)).state_dict()
    ours = from_official(name, official_sd)
    back = to_official(name, ours)
    assert back.keys() == official_sd.keys()
    for key, value in official_sd.items():
        torch.testing.assert_close(back[key], value)


@pytest.mark.parametrize("name", OFFICIAL)
def test_options_of_recovers_the_options_from_the_shapes(name):
    options = {"se": {"reduction": 8}, "eca": {"kernel_size": 5}, "cbam": {"reduction": 8},
               "cbam_channel": {"reduction": 8}, "sa": {"groups": 32}, "ulsam": {"groups": 8},
               "coord": {"reduction": 16}}[name]
    module = make_attention(name, 256, **options)
    assert SPECS[name].options_of(module.state_dict(), 256) == options


def test_the_variant_without_official_code_says_so():
    with pytest.raises(ValueError, match="name='sa_conv' has no official"):
        from_official("sa_conv", {})
    with pytest.raises(ValueError, match="name='sa_conv' has no official"):
        make_official("sa_conv", 256)


@pytest.mark.parametrize("bad", ["SE", "nope", None])
def test_an_unknown_name_gets_one_clear_error_everywhere(bad):
    for call in (lambda: spec(bad), lambda: make_attention(bad, 64), lambda: from_official(bad, {})):
        with pytest.raises(ValueError, match="is not an attention module; choose one of se, eca"):
            call()


def test_name_of_refuses_a_module_that_is_not_registered():
    with pytest.raises(ValueError, match="module: a Linear is not a registered attention module"):
        name_of(nn.Linear(2, 2))


def test_sa_fallback_only_where_the_default_is_invalid():
    assert SPECS["sa"].fallback(256) is None
    options, note = SPECS["sa"].fallback(96)
    assert options == {"groups": 48} and "C % 128" in note
    make_attention("sa", 96, **options)  # valid
    with pytest.raises(ValueError):
        make_attention("sa", 96)


def test_an_eighth_module_is_one_entry(monkeypatch):
    class Identity(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(channels))

        def forward(self, x):
            return x * self.scale.view(1, -1, 1, 1)

        def attention_maps(self, x):
            return {"channel": self.scale.view(1, -1, 1, 1).expand(x.shape[0], -1, 1, 1)}

    entry = AttentionSpec(name="scale", title="A learned scale", build=Identity, passes=2,
                          passes_why="1 read + 1 write", train_passes=4,
                          train_passes_why="forward 2; backward: read grad_y + write grad_x", official=Identity)
    monkeypatch.setitem(SPECS, "scale", entry)
    from lightattn_ref.cost import minimal_passes

    assert isinstance(make_attention("scale", 8), Identity)
    assert minimal_passes("scale") == 2 and minimal_passes(make_attention("scale", 8)) == 2
    assert minimal_passes("scale", "train") == 4
    loaded = load_official("scale", {"scale": torch.full((8,), 2.0)}, 8)
    assert loaded.scale.eq(2).all()


@pytest.mark.parametrize("name", list(SPECS))
def test_every_entry_has_a_training_pass_count_above_its_eval_count(name):
    entry = SPECS[name]
    assert entry.train_passes > entry.passes and float(2 * entry.train_passes).is_integer()  # whole or half passes
    assert "backward" in entry.train_passes_why and "grad_x" in entry.train_passes_why


def test_a_training_pass_count_is_required():
    with pytest.raises(TypeError, match="train_passes"):
        AttentionSpec(name="x", title="x", build=nn.Identity, passes=2, passes_why="1 read + 1 write")
