"""What PyTorch's own layers accept, every attention module accepts.

- ``.half()``, ``.double()``, ``.to(dtype)`` convert the module and it runs in that dtype.
- A channels_last input gives a channels_last output with the same values.
- An empty batch (N = 0) passes through, in eval and in training mode; an empty map does not.
"""

from __future__ import annotations

import pytest
import torch

from lightattn_ref import ATTENTION_NAMES, make_attention

CHANNELS = 64
VARIANTS = [(name, {}) for name in (*ATTENTION_NAMES, "sa_conv")]
IDS = [name for name, _ in VARIANTS]


def build(name: str, options: dict, seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    groups = {"groups": 8} if name in ("sa", "sa_conv") else {}
    module = make_attention(name, CHANNELS, **groups, **options)
    with torch.no_grad():  # move every parameter off its initial value, so gates are not constant
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return module


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
@pytest.mark.parametrize(
    ("convert", "dtype", "tolerance"),
    [
        (lambda m: m.half(), torch.float16, 1e-2),
        (lambda m: m.bfloat16(), torch.bfloat16, 5e-2),
        (lambda m: m.double(), torch.float64, 1e-5),
        (lambda m: m.to(torch.float64), torch.float64, 1e-5),
    ],
    ids=["half", "bfloat16", "double", "to_float64"],
)
def test_dtype_conversion(name: str, options: dict, convert, dtype: torch.dtype, tolerance: float) -> None:
    module = build(name, options).eval()
    x = torch.randn(2, CHANNELS, 6, 5)
    with torch.no_grad():
        expected = module(x)
        converted = convert(module)
        assert converted is module  # nn.Module's converters return the module itself
        y = module(x.to(dtype))
    assert y.dtype == dtype
    torch.testing.assert_close(y.float(), expected, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_channels_last_in_gives_channels_last_out(name: str, options: dict, training: bool) -> None:
    module = build(name, options).train(training)
    x = torch.randn(2, CHANNELS, 6, 5)
    with torch.set_grad_enabled(training):
        expected = module(x)
        y = module(x.contiguous(memory_format=torch.channels_last))
    assert y.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(y, expected, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("grad", [False, True], ids=["no_grad", "grad"])
def test_an_empty_batch_passes_through(name: str, options: dict, training: bool, grad: bool) -> None:
    module = build(name, options).train(training)
    before = {k: v.clone() for k, v in module.state_dict().items()}
    x = torch.randn(0, CHANNELS, 6, 5, requires_grad=grad)
    with torch.set_grad_enabled(grad):
        y = module(x)
    assert y.shape == x.shape
    if grad:
        y.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape
    for key, value in module.state_dict().items():  # no running statistic learns from nothing
        if not key.endswith("num_batches_tracked"):  # PyTorch's BatchNorm counts the call
            torch.testing.assert_close(value, before[key], equal_nan=False)


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
@pytest.mark.parametrize("shape", [(2, CHANNELS, 0, 5), (2, CHANNELS, 6, 0)], ids=["H0", "W0"])
def test_an_empty_map_is_refused_by_name(name: str, options: dict, shape: tuple[int, ...]) -> None:
    module = build(name, options).eval()
    with pytest.raises(ValueError, match=r"non-empty map \(H, W > 0\)"):
        module(torch.randn(shape))
