"""Every bad input raises the promised error type with a message naming the argument and rule."""

from __future__ import annotations

import pytest
import torch

from lightattn_ref import ATTENTION_NAMES, eca_kernel_size, make_attention


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_wrong_ndim(name: str) -> None:
    with pytest.raises(ValueError, match=r"x must be a 4-D tensor \(N, C, H, W\); got 3-D"):
        make_attention(name, 128)(torch.randn(128, 4, 4))


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_channel_count_differs_from_construction(name: str) -> None:
    with pytest.raises(ValueError, match="x has 256 channels .* built for channels=128"):
        make_attention(name, 128)(torch.randn(2, 256, 4, 4))


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_integer_dtype(name: str) -> None:
    with pytest.raises(TypeError, match="x must be a floating-point tensor; got dtype torch.int64"):
        make_attention(name, 128)(torch.ones(2, 128, 4, 4, dtype=torch.int64))


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("shape", [(2, 128, 0, 4), (2, 128, 4, 0)])
def test_empty_map(name: str, shape: tuple[int, ...]) -> None:
    """An empty batch passes (tests/test_module_contract.py); an empty map has nothing to pool."""
    with pytest.raises(ValueError, match=r"x must have a non-empty map \(H, W > 0\)"):
        make_attention(name, 128).eval()(torch.randn(shape))


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize(("channels", "error"), [(0, ValueError), (-8, ValueError), (64.0, TypeError), (True, TypeError)])
def test_bad_channels(name: str, channels: object, error: type) -> None:
    with pytest.raises(error, match="channels"):
        make_attention(name, channels)  # type: ignore[arg-type]


def test_sa_channels_not_divisible_by_two_groups() -> None:
    with pytest.raises(ValueError, match=r"channels=100 must be divisible by 2\*groups=128"):
        make_attention("sa", 100)
    with pytest.raises(ValueError, match=r"channels=96 must be divisible by 2\*groups=64"):
        make_attention("sa", 96, groups=32)


def test_ulsam_channels_not_divisible_by_groups() -> None:
    with pytest.raises(ValueError, match="channels=30 must be divisible by groups=4"):
        make_attention("ulsam", 30)


@pytest.mark.parametrize("k", [2, 4, 0, -3])
def test_eca_even_or_nonpositive_kernel(k: int) -> None:
    rule = "must be odd" if k > 0 and k % 2 == 0 else "must be a positive integer"
    with pytest.raises(ValueError, match=f"kernel_size={k} {rule}"):
        make_attention("eca", 64, kernel_size=k)


def test_eca_kernel_size_arguments() -> None:
    with pytest.raises(ValueError, match="channels=0"):
        eca_kernel_size(0)
    with pytest.raises(ValueError, match="gamma=0"):
        eca_kernel_size(64, gamma=0)


@pytest.mark.parametrize("name", ["se", "cbam", "cbam_channel"])
def test_reduction_larger_than_channels(name: str) -> None:
    with pytest.raises(ValueError, match="reduction=32 must not exceed channels=16"):
        make_attention(name, 16, reduction=32)


@pytest.mark.parametrize("name", ["cbam", "ulsam"])
def test_training_batchnorm_on_single_value(name: str) -> None:
    module = make_attention(name, 64)
    x = torch.randn(1, 64, 1, 1)
    with pytest.raises(ValueError, match=r"BatchNorm in training mode needs more than one value per channel.*\.eval\(\)"):
        module.train()(x)
    assert module.eval()(x).shape == x.shape  # running statistics make eval mode fine


def test_unknown_name_and_option() -> None:
    with pytest.raises(ValueError, match="name='bam' is not an attention module; choose one of se, eca"):
        make_attention("bam", 64)
    with pytest.raises(TypeError, match="reduction"):
        make_attention("eca", 64, reduction=4)
