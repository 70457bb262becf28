"""Every module on the device of ``LIGHTATTN_TEST_DEVICE`` (default ``cpu``) against CPU float64.

``LIGHTATTN_TEST_DEVICE=cuda pytest tests/test_device.py`` runs the same checks on a GPU: forward
and backward in eval and training mode, and inference (eval without autograd, where the modules
take their fast paths), in float32 and, on CUDA, float16 and bfloat16. Outputs, input and parameter
gradients and BatchNorm statistics must stay on the device, keep the dtype and agree with the
float64 CPU result of the same rounded weights and inputs, so only the arithmetic's rounding is
measured. On the CPU the float32 checks run, so the file always tests something.

Tolerances. An error may reach ``TOLERANCE[dtype]`` times the size of what is compared (at least 1): the
tensor's largest value for outputs and input gradients, the module's largest parameter gradient
for parameter gradients (a sum over N x H x W positions carries rounding of the size of its
terms, not of its result; the gradient of a bias right before a training-mode BatchNorm is
exactly zero and computes as noise). Off the CPU, an error may also reach ``SLACK`` times the
error of the CPU's own kernels in the same rounding (float16 for float32, which CUDA may compute
in TF32, float16's 10-bit mantissa, by default): in float16 and bfloat16, training ULSAM is ill
conditioned (a per-channel affine with small weights right before a training-mode BatchNorm),
and its low-precision gradients are off by more than the dtype's resolution on any device.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from conftest import device_from_environment
from lightattn_ref.registry import SPECS, make_attention

NAMES = list(SPECS)  # ATTENTION_NAMES and the variants, e.g. "sa_conv"
CHANNELS = 128  # SA's default groups=64 needs C % 128 == 0: every module keeps its official defaults
SHAPE = (2, CHANNELS, 8, 6)  # non-square, so a transposed axis shows
TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 5e-2}
SLACK = 4.0
CPU_ROUNDING = {torch.float32: torch.float16, torch.float16: torch.float16, torch.bfloat16: torch.bfloat16}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """float32 everywhere; float16 and bfloat16 on CUDA, the dtypes GPU training uses."""
    if "dtype" in metafunc.fixturenames:
        dtypes = [torch.float32]
        if device_from_environment().type == "cuda":
            dtypes += [torch.float16, torch.bfloat16]
        metafunc.parametrize("dtype", dtypes, ids=[str(d).removeprefix("torch.") for d in dtypes])


def build(name: str, dtype: torch.dtype) -> nn.Module:
    """The module with perturbed weights and random BatchNorm statistics, rounded to ``dtype``.

    Perturbed, so no gate sits at its initial constant (CBAM's spatial BatchNorm starts at weight
    0); rounded first, so the float64 reference computes with exactly the weights the device has.
    """
    gen = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):  # the default initialisation draws from the global generator
        torch.manual_seed(0)
        module = make_attention(name, CHANNELS)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen))
        for key, b in module.named_buffers():
            if key.endswith("running_mean"):
                b.copy_(0.2 * torch.randn(b.shape, generator=gen))
            elif key.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
    return module.to(dtype)


def inputs(dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """x and the upstream gradient, both (2, 128, 8, 6) in ``dtype`` on the CPU."""
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(SHAPE, generator=gen).to(dtype)
    return x, torch.randn(SHAPE, generator=gen).to(dtype)


def step(module: nn.Module, x: Tensor, grad_out: Tensor | None, training: bool) -> dict[str, Tensor]:
    """Forward (and backward when ``grad_out`` is given); every result by name.

    The names: "output", "input gradient", "gradient of <parameter>", "buffer <buffer>".
    """
    module.train(training)
    if grad_out is None:
        with torch.no_grad():
            return {"output": module(x)}
    x = x.detach().requires_grad_()
    y = module(x)
    y.backward(grad_out)
    results = {"output": y.detach(), "input gradient": x.grad}
    for key, p in module.named_parameters():
        assert p.grad is not None, f"parameter {key} got no gradient"
        results[f"gradient of {key}"] = p.grad
    results.update({f"buffer {key}": b for key, b in module.named_buffers()})  # training updated them
    return results


def assert_on_device(results: dict[str, Tensor], device: torch.device, dtype: torch.dtype) -> None:
    for what, tensor in results.items():
        assert tensor.device == device, f"{what} is on {tensor.device}, not on {device}"
        if not what.startswith("buffer "):  # num_batches_tracked is int64 in every dtype
            assert tensor.dtype == dtype, f"{what} is {tensor.dtype}, not {dtype}"


def assert_close_to_float64(
    results: dict[str, Tensor],
    expected: dict[str, Tensor],
    dtype: torch.dtype,
    cpu_rounding: dict[str, Tensor] | None,
) -> None:
    """Each result against float64 within the module docstring's bound; ``cpu_rounding`` only off the CPU."""
    gradients = [e.abs().max() for what, e in expected.items() if what.startswith("gradient of ")]
    gradient_scale = float(max(gradients)) if gradients else 1.0
    for what, e in expected.items():
        actual = results[what].cpu()
        if not e.is_floating_point():
            assert torch.equal(actual, e), what
            continue
        own_scale = max(1.0, float(e.abs().max())) if e.numel() else 1.0
        bound = TOLERANCE[dtype] * (gradient_scale if what.startswith("gradient of ") else own_scale)
        if cpu_rounding is not None:
            bound = max(bound, SLACK * float((cpu_rounding[what].double() - e).abs().max()))
        error = float((actual.double() - e).abs().max()) if e.numel() else 0.0
        assert error <= bound, f"{what}: max |error| {error:.3g} from float64 exceeds {bound:.3g} ({dtype})"


def check(device: torch.device, dtype: torch.dtype, name: str, training: bool, backward: bool) -> None:
    """Run the module on ``device`` and in float64 on the CPU (and, off the CPU, in the CPU's rounding)."""
    module = build(name, dtype)
    x, grad_out = inputs(dtype)

    def run_as(target: torch.device | torch.dtype) -> dict[str, Tensor]:
        upstream = grad_out.to(target) if backward else None
        return step(copy.deepcopy(module).to(target), x.to(target), upstream, training)

    expected, on_device = run_as(torch.float64), run_as(device)
    assert_on_device(on_device, device, dtype)
    cpu_rounding = run_as(CPU_ROUNDING[dtype]) if device.type != "cpu" else None
    assert_close_to_float64(on_device, expected, dtype, cpu_rounding)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_forward_backward_on_device_matches_cpu_float64(
    device: torch.device, dtype: torch.dtype, name: str, training: bool
) -> None:
    check(device, dtype, name, training, backward=True)


@pytest.mark.parametrize("name", NAMES)
def test_inference_on_device_matches_cpu_float64(device: torch.device, dtype: torch.dtype, name: str) -> None:
    """Eval without autograd: the path where the modules take their inference fast paths."""
    check(device, dtype, name, training=False, backward=False)
