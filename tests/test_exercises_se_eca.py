"""The SE-to-ECA chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightattn_ref import eca_kernel_size
from lightattn_ref.exercises import check_eca_matrix, check_eca_ns, check_psi, check_se_var2, reference_psi


# ---------------------------------------------------------------------------------------- psi
def psi_right(channels: int, gamma: float = 2, b: float = 1) -> int:
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


def psi_nearest_odd(channels: int, gamma: float = 2, b: float = 1) -> int:
    """The paper's words, "the nearest odd number" with ties going up: the same function."""
    t = (math.log2(channels) + b) / gamma
    return 2 * math.floor(t / 2) + 1


@pytest.mark.parametrize("answer", [psi_right, psi_nearest_odd, eca_kernel_size], ids=["code", "nearest-odd", "package"])
def test_psi_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_psi(answer)
    assert capsys.readouterr().out.startswith("Correct: psi(C) matches the paper's rule for 40 values")


def psi_even(channels: int, gamma: float = 2, b: float = 1) -> int:
    return int((math.log2(channels) + b) / gamma)


def psi_no_b(channels: int, gamma: float = 2, b: float = 1) -> int:
    return psi_right(channels, gamma, 0)


def psi_round(channels: int, gamma: float = 2, b: float = 1) -> int:
    t = round((math.log2(channels) + b) / gamma)
    return t if t % 2 else t + 1


def psi_ceil(channels: int, gamma: float = 2, b: float = 1) -> int:
    t = math.ceil((math.log2(channels) + b) / gamma)
    return t if t % 2 else t + 1


def psi_ties_down(channels: int, gamma: float = 2, b: float = 1) -> int:
    t = (math.log2(channels) + b) / gamma
    return 2 * math.ceil(t / 2) - 1


def psi_fixed_constants(channels: int, gamma: float = 2, b: float = 1) -> int:
    return psi_right(channels)


def psi_float(channels: int, gamma: float = 2, b: float = 1) -> float:
    return float(psi_right(channels, gamma, b))


def psi_natural_log(channels: int, gamma: float = 2, b: float = 1) -> int:
    t = int(abs((math.log(channels) + b) / gamma))
    return t if t % 2 else t + 1


def psi_log10(channels: int, gamma: float = 2, b: float = 1) -> int:
    t = int(abs((math.log10(channels) + b) / gamma))
    return t if t % 2 else t + 1


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (psi_even, "kernel 4 for C=128 is even: ECA needs an odd k"),
        (psi_no_b, "you forgot b"),
        (psi_round, r"psi\(64\) returned 5 but the rule gives 3: .* take int\(z\)"),
        (psi_ceil, r"psi\(64\) returned 5 .* take int\(z\)"),
        (psi_ties_down, r"psi\(128\) returned 3 but the rule gives 5: .* ties going up"),
        (psi_fixed_constants, "use the gamma and b arguments"),
        (psi_float, "return an int"),
        (psi_log10, "not log10"),
        (psi_natural_log, "use the base-2 logarithm log2\\(C\\), not log"),
    ],
    ids=["even-kernel", "forgot-b", "round", "ceil", "ties-down", "fixed-constants", "float", "log10", "natural-log"],
)
def test_psi_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_psi(wrong)


def test_reference_psi_is_the_package_rule() -> None:
    assert [reference_psi(c) for c in (64, 128, 256, 512, 1024, 2048)] == [3, 5, 5, 5, 5, 7]
    for c in range(1, 5000, 7):
        assert reference_psi(c) == eca_kernel_size(c)


# ------------------------------------------------------------------------------------ SE-Var2
class Var2(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.weight * x.mean(dim=(2, 3)))[:, :, None, None]


class Var2Conv(nn.Module):
    """A depthwise 1x1 convolution without bias is the same diagonal matrix."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1, groups=channels, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.conv(x.mean(dim=(2, 3), keepdim=True)))


@pytest.mark.parametrize("answer", [Var2, Var2Conv], ids=["parameter", "depthwise-conv"])
def test_se_var2_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_se_var2(answer)
    assert capsys.readouterr().out.startswith("Correct:")


class FullMatrix(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Linear(channels, channels)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.fc(x.mean(dim=(2, 3))))[:, :, None, None]


class WithBias(Var2):
    def __init__(self, channels: int) -> None:
        super().__init__(channels)
        self.bias = nn.Parameter(torch.zeros(channels))


class NoSigmoid(Var2):
    def forward(self, x: Tensor) -> Tensor:
        return x * (self.weight * x.mean(dim=(2, 3)))[:, :, None, None]


class MaxPool(Var2):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.weight * x.amax(dim=(2, 3)))[:, :, None, None]


class GateOnly(Var2):
    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.weight * x.mean(dim=(2, 3)))[:, :, None, None]


class SharedWeight(nn.Module):
    """One scalar for all channels: the wrong parameter count."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.weight * x.mean(dim=(2, 3)))[:, :, None, None]


class Softmax(Var2):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.softmax(self.weight * x.mean(dim=(2, 3)), dim=1)[:, :, None, None]


class NoArgs(nn.Module):
    def __init__(self) -> None:
        super().__init__()


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (FullMatrix, "full C x C matrix"),
        (WithBias, "no bias"),
        (NoSigmoid, "missing its sigmoid"),
        (MaxPool, "maximum"),
        (GateOnly, "returns the gate"),
        (SharedWeight, "exactly C = 8 parameters"),
        (Softmax, "differs from sigma"),
        (NoArgs, "must take the number of channels"),
    ],
    ids=["full-matrix", "bias", "no-sigmoid", "max-pool", "gate-only", "shared-weight", "softmax", "no-args"],
)
def test_se_var2_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_se_var2(wrong)


# --------------------------------------------------------------------------------- ECA matrix
def matrix_right(weight: Tensor, channels: int) -> Tensor:
    k, pad = weight.numel(), (weight.numel() - 1) // 2
    m = torch.zeros(channels, channels)
    for i in range(channels):
        for t in range(k):
            if 0 <= i + t - pad < channels:
                m[i, i + t - pad] = weight[t]
    return m


def matrix_from_conv(weight: Tensor, channels: int) -> Tensor:
    """The conv applied to the basis vectors gives the columns."""
    k = weight.numel()
    return F.conv1d(torch.eye(channels)[:, None], weight.view(1, 1, k), padding=(k - 1) // 2)[:, 0].T


@pytest.mark.parametrize("answer", [matrix_right, matrix_from_conv], ids=["indexing", "basis-vectors"])
def test_eca_matrix_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_eca_matrix(answer)
    assert capsys.readouterr().out.startswith("Correct:")


def matrix_circular(weight: Tensor, channels: int) -> Tensor:
    k, pad = weight.numel(), (weight.numel() - 1) // 2
    m = torch.zeros(channels, channels)
    for i in range(channels):
        for t in range(k):
            m[i, (i + t - pad) % channels] += weight[t]
    return m


def matrix_shifted(weight: Tensor, channels: int) -> Tensor:
    k = weight.numel()
    m = torch.zeros(channels, channels)
    for i in range(channels):
        for t in range(k):
            if 0 <= i + t < channels:
                m[i, i + t] = weight[t]
    return m


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda w, c: matrix_right(w.flip(0), c), "flips the kernel"),
        (lambda w, c: matrix_right(w, c).T, "or the transposed matrix"),
        (matrix_circular, "wraps around"),
        (matrix_shifted, "shifted by"),
        (lambda w, c: matrix_right(w, c)[:-1], "returned shape"),
        (lambda w, c: torch.diag(w[(w.numel() - 1) // 2].expand(c)), "differs from the matrix"),
    ],
    ids=["flipped", "transposed", "circular", "off-centre", "wrong-shape", "diagonal-only"],
)
def test_eca_matrix_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_eca_matrix(wrong)


# ------------------------------------------------------------------------------------- ECA-NS
class NS(nn.Module):
    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.k = kernel_size
        self.weight = nn.Parameter(torch.zeros(channels, kernel_size))

    def scores(self, s: Tensor, weight: Tensor) -> Tensor:
        p = (self.k - 1) // 2
        return (F.pad(s, (p, p)).unfold(1, self.k, 1) * weight).sum(dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.scores(x.mean(dim=(2, 3)), self.weight))[:, :, None, None]


class NSBand(nn.Module):
    """The C x C band built from a (C, 1, k) parameter, then one matrix product: the same module."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.c, self.k = channels, kernel_size
        self.weight = nn.Parameter(torch.zeros(channels, 1, kernel_size))

    def forward(self, x: Tensor) -> Tensor:
        p = (self.k - 1) // 2
        rows = torch.arange(self.c)[:, None].expand(self.c, self.k)
        cols = rows + torch.arange(self.k)[None, :] - p
        inside = (cols >= 0) & (cols < self.c)
        band = torch.zeros(self.c, self.c).index_put((rows[inside], cols[inside]), self.weight[:, 0][inside])
        return x * torch.sigmoid(x.mean(dim=(2, 3)) @ band.T)[:, :, None, None]


@pytest.mark.parametrize("answer", [NS, NSBand], ids=["unfold", "band-matrix"])
def test_eca_ns_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_eca_ns(answer)
    assert capsys.readouterr().out.startswith("Correct: your ECA-NS holds C·k weights")


class NSShared(nn.Module):
    """ECA itself: one kernel for every channel."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 1, kernel_size, padding=(kernel_size - 1) // 2, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.conv(x.mean(dim=(2, 3))[:, None]))[:, 0, :, None, None]


class NSMasked(nn.Module):
    """A full C x C matrix multiplied by the band mask: the right outputs, C^2 parameters."""

    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, channels))
        i = torch.arange(channels)
        self.register_buffer("mask", ((i[:, None] - i[None, :]).abs() <= (kernel_size - 1) // 2).float())

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(x.mean(dim=(2, 3)) @ (self.weight * self.mask).T)[:, :, None, None]


class NSBias(NS):
    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__(channels, kernel_size)
        self.bias = nn.Parameter(torch.zeros(channels))


class NSKByC(NS):
    def __init__(self, channels: int, kernel_size: int) -> None:
        super().__init__(channels, kernel_size)
        self.weight = nn.Parameter(torch.zeros(kernel_size, channels))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.scores(x.mean(dim=(2, 3)), self.weight.T))[:, :, None, None]


class NSFlipped(NS):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.scores(x.mean(dim=(2, 3)), self.weight.flip(1)))[:, :, None, None]


class NSTransposed(NSBand):
    def forward(self, x: Tensor) -> Tensor:
        p = (self.k - 1) // 2
        rows = torch.arange(self.c)[:, None].expand(self.c, self.k)
        cols = rows + torch.arange(self.k)[None, :] - p
        inside = (cols >= 0) & (cols < self.c)
        band = torch.zeros(self.c, self.c).index_put((rows[inside], cols[inside]), self.weight[:, 0][inside])
        return x * torch.sigmoid(x.mean(dim=(2, 3)) @ band)[:, :, None, None]


class NSCircular(NS):
    def forward(self, x: Tensor) -> Tensor:
        p = (self.k - 1) // 2
        s = F.pad(x.mean(dim=(2, 3))[:, None], (p, p), mode="circular")[:, 0]
        return x * torch.sigmoid((s.unfold(1, self.k, 1) * self.weight).sum(dim=-1))[:, :, None, None]


class NSOffCentre(NS):
    def forward(self, x: Tensor) -> Tensor:
        s = F.pad(x.mean(dim=(2, 3)), (0, self.k - 1))  # window i = s_i ... s_{i+k-1}
        return x * torch.sigmoid((s.unfold(1, self.k, 1) * self.weight).sum(dim=-1))[:, :, None, None]


class NSNoSigmoid(NS):
    def forward(self, x: Tensor) -> Tensor:
        return x * self.scores(x.mean(dim=(2, 3)), self.weight)[:, :, None, None]


class NSMaxPool(NS):
    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.scores(x.amax(dim=(2, 3)), self.weight))[:, :, None, None]


class NSGateOnly(NS):
    def forward(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.scores(x.mean(dim=(2, 3)), self.weight))[:, :, None, None]


class NSOneArgument(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (NSShared, "one kernel shared by all channels: that is ECA"),
        (NSMasked, "a full C x C matrix"),
        (NSBias, "ECA-NS has no bias"),
        (NSKByC, r"shape \(3, 8\), k x C: store them as \(C, k\)"),
        (NSFlipped, "reads each row of weights backwards"),
        (NSTransposed, "transposed band"),
        (NSCircular, "wraps around"),
        (NSOffCentre, "shifted by 1 channel"),
        (NSNoSigmoid, "missing its sigmoid"),
        (NSMaxPool, "maximum"),
        (NSGateOnly, "returns the gate"),
        (NSOneArgument, "must take the number of channels C and the kernel size k"),
    ],
    ids=["shared-kernel", "masked-full-matrix", "bias", "k-by-C", "flipped-rows", "transposed-band", "circular",
         "off-centre", "no-sigmoid", "max-pool", "gate-only", "one-argument"],
)
def test_eca_ns_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_eca_ns(wrong)
