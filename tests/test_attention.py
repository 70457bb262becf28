"""Properties every attention module must have, and the equivalences the chapters teach."""

from __future__ import annotations

import math
from unittest import mock

import pytest
import torch
import torch.nn.functional as F

from conftest import randomize
from lightattn_ref import ATTENTION_NAMES, eca_kernel_size, make_attention
from lightattn_ref.attention import channel_shuffle

SHAPES = [(2, 128, 7, 7), (3, 256, 5, 9), (1, 128, 12, 4), (2, 512, 1, 3)]


def expected_params(name: str, c: int, **opt: int) -> int:
    """The parameter formulas of each module file's docstring (the papers' counts)."""
    r = opt.get("reduction", 16)
    if name in ("se", "cbam_channel"):
        return 2 * c * (c // r) + c // r + c
    if name == "cbam":
        return 2 * c * (c // r) + c // r + c + 98 + 2
    if name == "eca":
        return opt.get("kernel_size", eca_kernel_size(c))
    if name == "sa":
        return 3 * c // opt.get("groups", 64)
    if name == "ulsam":
        return 5 * c + 3 * opt.get("groups", 4)
    if name == "coord":
        mip = max(8, c // opt.get("reduction", 32))
        return 3 * c * mip + 3 * mip + 2 * c
    raise AssertionError(name)


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("shape", SHAPES)
def test_shape_and_dtype_preserved(name: str, shape: tuple[int, ...]) -> None:
    module = make_attention(name, shape[1])
    module.train(shape[0] * shape[2] * shape[3] > 1)  # batch statistics need more than one value
    x = torch.randn(shape)
    y = module(x)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert y.is_contiguous()


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("channels", [128, 256, 512, 2048])
def test_parameter_count_matches_formula(name: str, channels: int) -> None:
    assert n_params(make_attention(name, channels)) == expected_params(name, channels)


@pytest.mark.parametrize(
    ("name", "options"),
    [("se", {"reduction": 4}), ("eca", {"kernel_size": 9}), ("cbam", {"reduction": 8}),
     ("sa", {"groups": 8}), ("ulsam", {"groups": 16}), ("coord", {"reduction": 4})],
)
def test_parameter_count_with_options(name: str, options: dict[str, int]) -> None:
    assert n_params(make_attention(name, 256, **options)) == expected_params(name, 256, **options)


def test_se_without_bias_is_the_pytorch_port() -> None:
    assert n_params(make_attention("se", 256, bias=False)) == 2 * 256 * (256 // 16)


def test_psi_table() -> None:
    channels = [64, 128, 256, 512, 1024, 2048]
    assert [eca_kernel_size(c) for c in channels] == [3, 5, 5, 5, 5, 7]
    assert [make_attention("eca", c).kernel_size for c in channels] == [3, 5, 5, 5, 5, 7]
    # psi follows log2(C)/gamma + b/gamma to the next odd integer
    for c in channels:
        t = int(abs((math.log2(c) + 1) / 2))
        assert eca_kernel_size(c) == (t if t % 2 else t + 1)
    assert eca_kernel_size(256, gamma=3, b=2) == 3  # (8 + 2) / 3 = 3.33 -> 3


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_gradcheck_float64(name: str) -> None:
    options = {"sa": {"groups": 4}, "se": {"reduction": 4}, "cbam": {"reduction": 4},
               "cbam_channel": {"reduction": 4}}.get(name, {})
    module = randomize(make_attention(name, 32, **options)).double().train()
    x = torch.randn(2, 32, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(module, (x,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_forward_is_finite(name: str, dtype: torch.dtype) -> None:
    module = make_attention(name, 256).to(dtype)
    x = (3 * torch.randn(2, 256, 14, 14)).to(dtype)
    for mode in (True, False):
        y = module.train(mode)(x)
        assert y.dtype == dtype and torch.isfinite(y).all()


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_attention_maps_are_gates_in_unit_interval(name: str) -> None:
    module = randomize(make_attention(name, 128)).eval()
    x = torch.randn(2, 128, 6, 5)
    maps = module.attention_maps(x)
    assert maps and all(((m >= 0) & (m <= 1)).all() for m in maps.values())
    expected_keys = {"se": {"channel"}, "eca": {"channel"}, "cbam_channel": {"channel"},
                     "cbam": {"channel", "spatial"}, "sa": {"channel", "spatial"},
                     "ulsam": {"spatial"}, "coord": {"height", "width"}}
    assert set(maps) == expected_keys[name]


def test_channel_gates_reproduce_the_output() -> None:
    x = torch.randn(2, 128, 6, 5)
    for name in ("se", "eca", "cbam_channel"):
        module = randomize(make_attention(name, 128))
        torch.testing.assert_close(module(x), x * module.attention_maps(x)["channel"])
    cbam = randomize(make_attention("cbam", 128)).eval()
    maps = cbam.attention_maps(x)
    torch.testing.assert_close(cbam(x), x * maps["channel"] * maps["spatial"])


# --- equivalences taught in the chapters -------------------------------------------------


def test_eca_conv1d_equals_banded_matrix() -> None:
    c, k = 64, 5
    module = randomize(make_attention("eca", c, kernel_size=k))
    w = module.conv.weight.view(k)
    band = torch.zeros(c, c)
    for i in range(c):  # row i sees channels i - (k-1)/2 .. i + (k-1)/2, zero beyond the ends
        for t in range(k):
            j = i + t - (k - 1) // 2
            if 0 <= j < c:
                band[i, j] = w[t]
    x = torch.randn(3, c, 4, 4)
    s = x.mean(dim=(2, 3))
    expected = torch.sigmoid(s @ band.T)[:, :, None, None]
    torch.testing.assert_close(module.attention_maps(x)["channel"], expected)
    assert int((band != 0).sum()) == c * k - 2 * sum(range(1, (k - 1) // 2 + 1))


def test_sa_groupnorm_is_per_channel_spatial_standardisation() -> None:
    module = make_attention("sa", 256, groups=8)
    x1 = torch.randn(5, module.half_channels, 7, 6)
    mean = x1.mean(dim=(2, 3), keepdim=True)
    var = x1.var(dim=(2, 3), keepdim=True, unbiased=False)
    torch.testing.assert_close(module.gn(x1), (x1 - mean) / torch.sqrt(var + module.gn.eps))


def test_sa_matches_literal_sequence_and_shares_weights_across_groups() -> None:
    from lightattn_ref.official import SALayer

    ours = randomize(make_attention("sa", 256, groups=16))
    official = SALayer(256, groups=16)
    official.load_state_dict(ours.state_dict())
    x = torch.randn(2, 256, 9, 5)
    torch.testing.assert_close(ours(x), official(x))
    assert ours.cweight.shape == (1, 256 // 32, 1, 1)  # one set of m weights for all G groups


def test_sa_output_channels_follow_the_shuffle() -> None:
    module = make_attention("sa", 128, groups=4)  # initial gates are sigma(1) everywhere
    x = torch.randn(2, 128, 3, 3)
    # with constant gates SA is sigma(1) * shuffle(x): output 2i + s is input s * C/2 + i
    torch.testing.assert_close(module(x), torch.sigmoid(torch.tensor(1.0)) * channel_shuffle(x, 2))


def test_channel_shuffle_permutation_and_inverse() -> None:
    x = torch.arange(12.0).view(1, 12, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]
    assert torch.equal(channel_shuffle(channel_shuffle(x, 3), 4), x)  # g then C/g undoes it
    with pytest.raises(ValueError, match="groups=5"):
        channel_shuffle(x, 5)


def test_sa_conv_variant() -> None:
    module = make_attention("sa_conv", 256, groups=16)
    m = 256 // 32
    assert n_params(module) == 2 * (m * m + m) + 2 * m
    x = torch.randn(2, 256, 4, 4)
    assert module(x).shape == x.shape


def test_ulsam_maps_sum_to_one_over_all_positions() -> None:
    module = randomize(make_attention("ulsam", 64, groups=4)).eval()
    x = torch.randn(2, 64, 6, 9)
    maps = module.attention_maps(x)["spatial"]
    assert maps.shape == (2, 4, 6, 9)
    torch.testing.assert_close(maps.sum(dim=(2, 3)), torch.ones(2, 4))
    assert not torch.allclose(maps.sum(dim=2), torch.ones(2, 4, 9))  # not a softmax over H alone


def test_ulsam_residual_and_shared_map() -> None:
    module = randomize(make_attention("ulsam", 64, groups=4)).eval()
    x = torch.randn(2, 64, 5, 5)
    maps = module.attention_maps(x)["spatial"].repeat_interleave(16, dim=1)  # one map per subspace
    torch.testing.assert_close(module(x), maps * x + x)


def test_ulsam_has_no_python_loop_over_subspaces() -> None:
    module = make_attention("ulsam", 64, groups=16)
    assert module.conv_point.groups == 16 and module.conv_dws.groups == 64
    assert not any(isinstance(m, torch.nn.ModuleList) for m in module.modules())


def test_coordinate_gate_is_separable() -> None:
    module = randomize(make_attention("coord", 64)).eval()
    x = torch.randn(2, 64, 7, 5)
    maps = module.attention_maps(x)
    gate = maps["height"] * maps["width"]  # (N, C, H, W)
    assert maps["height"].shape == (2, 64, 7, 1) and maps["width"].shape == (2, 64, 1, 5)
    torch.testing.assert_close(module(x), x * gate)
    # every channel's H x W gate is an outer product: rank one
    ranks = torch.linalg.matrix_rank(gate.flatten(0, 1), rtol=1e-5)
    assert (ranks == 1).all()


def test_coordinate_mip_rule() -> None:
    assert make_attention("coord", 64).mip == 8
    assert make_attention("coord", 1024).mip == 32
    assert make_attention("coord", 512, reduction=8).mip == 64


def test_cbam_spatial_gate_pools_max_then_mean() -> None:
    module = make_attention("cbam", 32, reduction=4).eval()
    with torch.no_grad():
        module.spatial_gate.conv.weight.zero_()
        module.spatial_gate.conv.weight[0, 0, 3, 3] = 1.0  # centre tap on the first (max) map
        module.spatial_gate.bn.weight.fill_(1.0)
    x = torch.randn(1, 32, 5, 5)
    bn = module.spatial_gate.bn
    expected = torch.sigmoid((x.amax(dim=1, keepdim=True) - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps))
    torch.testing.assert_close(module.spatial_gate.gate(x), expected)


def test_cbam_initial_values_follow_official_init() -> None:
    """MODELS/model_resnet.py zeroes the biases and the spatial BN weight; the spatial convolution
    keeps PyTorch's default initialisation, as in the official module file MODELS/cbam.py."""
    from lightattn_ref.attention import SpatialGate

    torch.manual_seed(0)
    gate = SpatialGate()
    torch.manual_seed(0)
    default = torch.nn.Conv2d(2, 1, 7, padding=3, bias=False)
    assert torch.equal(gate.conv.weight, default.weight)
    module = make_attention("cbam", 64)
    assert torch.equal(module.spatial_gate.bn.weight, torch.zeros(1))
    assert not module.channel_gate.fc1.bias.any() and not module.channel_gate.fc2.bias.any()
    x = torch.randn(2, 64, 5, 5)
    torch.testing.assert_close(module.eval().attention_maps(x)["spatial"], torch.full((2, 1, 5, 5), 0.5))


def test_ulsam_official_batchnorm_momentum() -> None:
    module = make_attention("ulsam", 32)
    assert module.bn_dws.momentum == 0.9 and module.bn_point.momentum == 0.9
    x = 2.0 + torch.randn(8, 32, 5, 5)
    module.train()(x)
    # PyTorch's convention: new running mean = (1 - momentum) * old + momentum * batch mean
    batch_mean = (module.conv_dws.weight.view(32) * x.mean(dim=(0, 2, 3)) + module.conv_dws.bias).detach()
    torch.testing.assert_close(module.bn_dws.running_mean, 0.9 * batch_mean, rtol=1e-4, atol=1e-5)


def test_sa_fused_forward_writes_no_extra_full_copy() -> None:
    """The shuffle is written directly: counting full-size allocations of the forward pass."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class CountFullSize(TorchDispatchMode):
        def __init__(self, numel: int) -> None:
            super().__init__()
            self.numel, self.ops = numel, []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            out = func(*args, **(kwargs or {}))
            if isinstance(out, torch.Tensor) and out.numel() == self.numel and out._base is None:
                self.ops.append(str(func))
            return out

    x = torch.randn(2, 256, 8, 8)
    from lightattn_ref.official import SALayer

    with torch.no_grad():
        with CountFullSize(x.numel()) as ours:
            make_attention("sa", 256, groups=8).eval()(x)
        with CountFullSize(x.numel()) as official:
            SALayer(256, groups=8).eval()(x)
    assert len(ours.ops) < len(official.ops), (ours.ops, official.ops)
    assert not any("clone" in op or "copy" in op or "cat" in op for op in ours.ops), ours.ops


@pytest.mark.parametrize("shape", [(2, 8, 7, 5), (1, 3, 1, 6), (1, 2, 4, 1), (1, 1, 2, 2)])
def test_inplace_max_pool_equals_pytorch(shape: tuple[int, ...]) -> None:
    from lightattn_ref.attention.ulsam import max_pool_3x3_

    z = torch.randn(shape)  # any sign: only real neighbours are compared
    expected = F.max_pool2d(z, 3, stride=1, padding=1)
    assert torch.equal(max_pool_3x3_(z.clone()), expected)


def official_pair(name: str, **opts: int) -> tuple[torch.nn.Module, torch.nn.Module]:
    """Our module with random weights and the official transcription holding the same weights."""
    from lightattn_ref.convert import to_official
    from lightattn_ref.official import make_official

    ours = randomize(make_attention(name, 80 if name == "sa" else 64, **opts))
    official = make_official(name, ours.channels, **opts)
    official.load_state_dict(to_official(name, ours.state_dict()) if name != "se" else
                             {"fc.0.weight": ours.fc1.weight, "fc.2.weight": ours.fc2.weight})
    if name == "se":  # the official port has no biases
        with torch.no_grad():
            ours.fc1.bias.zero_(), ours.fc2.bias.zero_()
    return ours, official


# odd G takes SA's general path, even G its shuffled-layout path
PAIR_OPTIONS = {"sa": [{"groups": 5}, {"groups": 8}], "eca": [{"kernel_size": 5}]}


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("grad", [True, False])
def test_fast_paths_match_official(name: str, grad: bool) -> None:
    """Inference (no-grad, in-place) and autograd paths both equal the official transcription."""
    for opts in PAIR_OPTIONS.get(name, [{}]):
        ours, official = (m.eval() for m in official_pair(name, **opts))
        x = torch.randn(3, ours.channels, 9, 7)
        with torch.set_grad_enabled(grad):
            torch.testing.assert_close(ours(x), official(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_training_gradients_match_official(name: str) -> None:
    """Train mode: the gradients of x and of every parameter equal the official code's."""
    from lightattn_ref.convert import to_official

    for opts in PAIR_OPTIONS.get(name, [{}]):
        ours, official = (m.train() for m in official_pair(name, **opts))
        x = torch.randn(3, ours.channels, 9, 7, requires_grad=True)
        weight = torch.randn(x.shape)  # a loss whose gradient differs at every output element

        def gradients(module: torch.nn.Module) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            params = dict(module.named_parameters())
            g_x, *g_params = torch.autograd.grad((module(x) * weight).sum(), [x, *params.values()])
            return g_x, dict(zip(params, g_params))

        (ours_x, ours_params), (official_x, official_params) = gradients(ours), gradients(official)
        torch.testing.assert_close(ours_x, official_x, rtol=1e-5, atol=1e-5)
        if name == "se":
            ours_params = {"fc.0.weight": ours_params["fc1.weight"], "fc.2.weight": ours_params["fc2.weight"]}
        else:
            ours_params = to_official(name, ours_params)
        assert ours_params.keys() == official_params.keys()
        for key, grad in official_params.items():
            torch.testing.assert_close(ours_params[key], grad, rtol=1e-4, atol=1e-4, msg=lambda m: f"{key}: {m}")


def literal_pooled_pointwise(x: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor,
                             weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """conv_point(maxpool_3x3(ReLU(scale * x + shift))) step by step, as eq. ulsam-dw/pw write it."""
    z = F.relu(x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1))
    z = F.max_pool2d(z, 3, stride=1, padding=1)
    g = weight.shape[0]
    return F.conv2d(z, weight.reshape(g, -1, 1, 1), bias, groups=g)


@pytest.mark.parametrize("shape", [(2, 12, 9, 7), (1, 6, 1, 5), (3, 6, 4, 1), (1, 3, 1, 1)])
@pytest.mark.parametrize("chunk_bytes", [1, 700, 1 << 20])  # one subspace, a partial last chunk, all at once
def test_pooled_pointwise_equals_literal_steps(shape: tuple[int, ...], chunk_bytes: int) -> None:
    from lightattn_ref.attention.ulsam import pooled_pointwise

    gen = torch.Generator().manual_seed(0)
    c, g = shape[1], 3
    x = torch.randn(shape, generator=gen)
    scale = torch.randn(c, generator=gen)  # both signs: max(s x, -b) must hold for s < 0 too
    shift = torch.randn(c, generator=gen)
    weight, bias = torch.randn(g, c // g, generator=gen), torch.randn(g, generator=gen)
    expected = literal_pooled_pointwise(x, scale, shift, weight, bias)
    got = pooled_pointwise(x, scale, shift, weight, bias, chunk_bytes=chunk_bytes)
    assert got.shape == (shape[0], g, shape[2], shape[3])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_ulsam_inference_path_matches_official_in_many_chunks() -> None:
    """Eval, no grad, 24 subspaces in chunks of 5 (the last one partial), channels-last input."""
    from lightattn_ref.convert import to_official
    from lightattn_ref.official import make_official

    ours = randomize(make_attention("ulsam", 48, groups=4)).eval()
    official = make_official("ulsam", 48, groups=4).eval()
    official.load_state_dict(to_official("ulsam", ours.state_dict()))
    x = torch.randn(6, 48, 10, 9).to(memory_format=torch.channels_last)
    per_subspace = 12 * 12 * 11 * 4  # bytes of one framed subspace
    ours.chunk_bytes = 5 * per_subspace
    ours.use_c_kernel = False  # the PyTorch path; the C kernel's own tests are in test_ulsam_kernel.py
    with mock.patch.object(torch, "bmm", wraps=torch.bmm) as bmm, torch.no_grad():
        torch.testing.assert_close(ours(x), official(x), rtol=1e-5, atol=1e-5)
    assert bmm.call_count == 5  # ceil(24 / 5) chunks


def test_eval_batchnorm_affine_is_the_layer_in_eval_mode() -> None:
    from lightattn_ref.attention._batchnorm import eval_batchnorm_affine

    bn = randomize(torch.nn.BatchNorm2d(5, eps=0.3)).eval()
    scale, shift = eval_batchnorm_affine(bn.running_mean, bn.running_var, bn.weight, bn.bias, bn.eps)
    z = torch.randn(2, 5, 3, 4)
    torch.testing.assert_close(scale.view(1, -1, 1, 1) * z + shift.view(1, -1, 1, 1), bn(z))
    with pytest.raises(AssertionError):
        eval_batchnorm_affine(None, bn.running_var, bn.weight, bn.bias, bn.eps)
