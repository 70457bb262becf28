"""ULSAM's compiled inference kernel: the same numbers as the PyTorch path, and used only where safe."""

from __future__ import annotations

import shutil
import sysconfig
import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from conftest import randomize
from lightattn_ref.attention import ulsam, ulsam_fast
from lightattn_ref.attention.ulsam import ULSAM, c_kernel_applies, pooled_pointwise, pooled_pointwise_c


def _compiler_available() -> bool:
    """A C compiler and Python's headers: what pip needs to build the extension."""
    cc = sysconfig.get_config_var("CC")
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return bool(cc) and shutil.which(cc.split()[0]) is not None and headers.exists()


def _built() -> bool:
    """Whether C_KERNEL is there. It must be wherever a C compiler is (setup.py marks the extension
    optional, so without one the install succeeds without it); the tests below have nothing more
    to check where it is not."""
    built = ulsam.C_KERNEL is not None
    assert built == _compiler_available()
    return built


def test_the_kernel_is_built_wherever_a_c_compiler_is() -> None:
    assert _built() == _compiler_available()


def _arguments(shape: tuple[int, ...], groups: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    c = shape[1]
    x = torch.randn(shape, generator=gen)
    scale = torch.randn(c, generator=gen)  # both signs: max(s x, -b) must hold for s < 0 too
    shift = torch.randn(c, generator=gen)
    weight, bias = torch.randn(groups, c // groups, generator=gen), torch.randn(groups, generator=gen)
    return x, scale, shift, weight, bias


@pytest.mark.parametrize("shape", [(2, 12, 9, 7), (1, 6, 1, 5), (3, 6, 4, 1), (1, 3, 1, 1), (2, 6, 2, 2)])
def test_kernel_equals_the_pytorch_path(shape: tuple[int, ...]) -> None:
    args = _arguments(shape, groups=3)
    if not _built():
        with pytest.raises(RuntimeError, match="not built"):
            pooled_pointwise_c(*args)
        return
    torch.testing.assert_close(pooled_pointwise_c(*args), pooled_pointwise(*args), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", ["nan in x", "zero scale times infinity"])
def test_a_nan_in_a_subspace_gives_the_official_output(case: str) -> None:
    if not _built():
        return
    x, scale, shift, weight, bias = _arguments((2, 4, 6, 5), groups=2)
    x[1, 3, 2, 3] = float("nan") if case == "nan in x" else float("inf")  # subspace (sample 1, group 1)
    if case != "nan in x":
        scale[3] = 0.0  # 0 * inf is NaN, as in the official depthwise convolution
    u = pooled_pointwise_c(x, scale, shift, weight, bias)
    # all of that subspace's u is NaN, and nothing else
    assert u[1, 1].isnan().all() and u.isnan().sum() == u[1, 1].numel()
    # the PyTorch path has NaNs in one 3x3 window only, but ULSAM's softmax over the map
    # spreads them over the whole subspace in both, so the module's output is the official one
    from lightattn_ref.convert import to_official
    from lightattn_ref.official import make_official

    ours = randomize(ULSAM(8, groups=2)).eval()
    if case != "nan in x":
        with torch.no_grad():
            ours.conv_dws.weight[5] = 0.0
    official = make_official("ulsam", 8, groups=2).eval()
    official.load_state_dict(to_official("ulsam", ours.state_dict()))
    x = torch.randn(2, 8, 6, 5)
    x[1, 5, 2, 3] = float("nan") if case == "nan in x" else float("inf")
    with torch.no_grad():
        torch.testing.assert_close(ours(x), official(x), rtol=1e-5, atol=1e-5, equal_nan=True)
        assert ours(x)[1, 4:].isnan().all() and not ours(x)[0].isnan().any()


def test_kernel_gives_the_same_bits_on_any_number_of_threads() -> None:
    if not _built():
        return
    args = _arguments((3, 8, 5, 6), groups=2)  # 6 subspaces
    threads = torch.get_num_threads()
    try:
        results = []
        for n in (1, 2, 4, 7):  # 7 > 6 subspaces: some threads would have nothing to do
            torch.set_num_threads(n)
            results.append(pooled_pointwise_c(*args))
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(r, results[0]) for r in results)


def test_kernel_checks_its_arguments() -> None:
    if not _built():
        return
    x, scale, shift, weight, bias = _arguments((1, 6, 4, 4), groups=3)
    with pytest.raises(ValueError, match="float32 CPU tensor"):
        pooled_pointwise_c(x.double(), scale, shift, weight, bias)
    with pytest.raises(ValueError, match=r"weight \(G, C/G\) = \(2, 2\) must match x's C=6"):
        pooled_pointwise_c(x, scale, shift, weight[:2], bias)
    with pytest.raises(ValueError, match="must all be positive"):
        ulsam.C_KERNEL.pooled_pointwise(0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError, match="threads=0 must be positive"):
        ulsam.C_KERNEL.pooled_pointwise(0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0)


class _CountingKernel:
    """Stands in for C_KERNEL, counting the calls it passes on."""

    def __init__(self, kernel) -> None:
        self.kernel, self.calls = kernel, 0

    def pooled_pointwise(self, *args) -> None:
        self.calls += 1
        self.kernel.pooled_pointwise(*args)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> _CountingKernel | None:
    """C_KERNEL replaced by a counter of its calls (None where it is not built)."""
    if not _built():
        return None
    counter = _CountingKernel(ulsam_fast.C_KERNEL)
    monkeypatch.setattr(ulsam_fast, "C_KERNEL", counter)  # where pooled_pointwise_c looks it up
    return counter


def test_the_module_uses_the_kernel_for_plain_inference_only(counting: _CountingKernel | None) -> None:
    if counting is None:
        return
    module = randomize(ULSAM(12, groups=3)).eval()
    x = torch.randn(2, 12, 7, 9)
    with torch.no_grad():
        fast = module(x)
        assert counting.calls == 1
        module.use_c_kernel = False
        torch.testing.assert_close(fast, module(x), rtol=1e-5, atol=1e-5)
        module.use_c_kernel = True
        torch.testing.assert_close(module(x.to(memory_format=torch.channels_last)), fast, rtol=1e-5, atol=1e-5)
        assert counting.calls == 2
        module.double()(x.double())  # float64: the PyTorch path
        module.float()
    module(x)  # autograd on: PyTorch's pool, whose backward is known
    module.train()(x)
    assert counting.calls == 2


def test_counters_tracers_and_exporters_see_the_pytorch_operations(counting: _CountingKernel | None) -> None:
    if counting is None:
        return
    module = randomize(ULSAM(12, groups=3)).eval()
    x = torch.randn(2, 12, 7, 9)
    with torch.no_grad():
        with FlopCounterMode(display=False) as flops:  # a dispatch mode: the FLOP counter
            module(x)
        assert flops.get_total_flops() > 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(module, x, check_trace=False)  # no comparison run outside the trace
        exported = torch.export.export(module, (x,))  # runs the module on fake tensors
        assert counting.calls == 0
        # the trace and the export hold PyTorch's operations; the module itself takes the kernel
        torch.testing.assert_close(traced(x), module(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(exported.module()(x), module(x), rtol=1e-5, atol=1e-5)
    assert counting.calls == 2
