"""Exercise checks for the CBAM chapter (notebooks/03_cbam.ipynb).

``check_channel_gate``: CBAM's channel gate, eq. cbam-channel,
a_c = sigma(MLP(GAP(x)) + MLP(GMP(x))) with ONE shared MLP.
``check_spatial_pool``: the input of CBAM's spatial gate, eq. cbam-spatial,
the two maps [max over channels, mean over channels], in that order.

Each check runs the reader's function on random inputs, compares it with the package's
``ChannelGate`` / ``SpatialGate``, prints one line when it is right and raises
``AssertionError`` with one sentence naming the mistake when it is wrong.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..attention.cbam import ChannelGate
from ._common import ATOL, as_tensor, call_answer, close, reader_check

__all__: list[str] = ["check_channel_gate", "check_spatial_pool"]

# (N, C, H, W, r): non-square maps, batch 1, H * W > 1 so that GAP and GMP differ
_GATE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 32, 5, 7, 8),
    (1, 64, 4, 4, 16),
    (3, 48, 6, 3, 4),
    (2, 16, 2, 9, 2),
    (4, 24, 3, 5, 3),
)
# (N, C, H, W): all four sizes differ, so pooling over a wrong axis changes the shape
_POOL_CASES: tuple[tuple[int, int, int, int], ...] = ((2, 8, 5, 7), (1, 3, 4, 6), (3, 16, 7, 5), (4, 5, 9, 3))


def _randomize(module: nn.Module, gen: torch.Generator) -> None:
    """Random weights and biases in [-1, 1): biases matter, and the ReLU cuts some units."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(2 * torch.rand(p.shape, generator=gen) - 1)


def _rows_seen(rows: Tensor, seen: list[Tensor]) -> bool:
    """True if every row of ``rows`` (N, C) was among the inputs the first MLP layer received."""
    if not seen:
        return False
    inputs = torch.cat(seen)
    return all(bool(torch.isclose(inputs, row, atol=ATOL).all(dim=1).any()) for row in rows)


def _diagnose_gate(answer: Tensor, x: Tensor, mlp: nn.Module, seen: list[Tensor]) -> str:
    """One sentence naming the mistake behind a wrong channel gate."""
    shape = list(x.shape)
    with torch.no_grad():
        avg, mx = x.mean(dim=(2, 3)), x.amax(dim=(2, 3))
        m_avg, m_max = mlp(avg), mlp(mx)
    known = [
        (torch.sigmoid(m_avg), "the gate uses only the average-pooled vector, which is SE's gate: "
         "add MLP(GMP(x)) to MLP(GAP(x)) before the sigmoid."),
        (torch.sigmoid(m_max), "the gate uses only the max-pooled vector: "
         "add MLP(GAP(x)) to MLP(GMP(x)) before the sigmoid."),
        (torch.sigmoid(m_avg) + torch.sigmoid(m_max), "the sigmoid is applied to each branch before the sum, "
         "so gates reach up to 2: add the two MLP outputs first, then apply one sigmoid."),
        ((torch.sigmoid(m_avg) + torch.sigmoid(m_max)) / 2, "the gate averages two sigmoids, which is not "
         "sigma of the sum: add the two MLP outputs first, then apply one sigmoid."),
        (torch.sigmoid(m_avg) * torch.sigmoid(m_max), "the gate multiplies two sigmoids: "
         "add the two MLP outputs first, then apply one sigmoid."),
        (torch.sigmoid(mlp(avg + mx)), "the two pooled vectors are added before the MLP: pass each one "
         "through the MLP and add the outputs (the ReLU makes the two orders differ)."),
        (m_avg + m_max, "the sigmoid is missing: the gate must be sigma(MLP(GAP(x)) + MLP(GMP(x)))."),
    ]
    for candidate, message in known:
        if close(answer, candidate[:, :, None, None]):
            return message
    rows = sum(len(s) for s in seen)
    if rows == len(x) and _rows_seen(avg, seen):
        return ("the max-pooled vector never went through the MLP you were given: "
                "CBAM sends both pooled vectors through one shared MLP.")
    if rows == len(x) and _rows_seen(mx, seen):
        return ("the average-pooled vector never went through the MLP you were given: "
                "CBAM sends both pooled vectors through one shared MLP.")
    if _rows_seen(avg, seen) and not _rows_seen(mx, seen):
        return ("the second vector given to the MLP is not the global max: take the maximum over "
                "H and W together (amax over dims 2 and 3), once per sample and channel.")
    if _rows_seen(mx, seen) and not _rows_seen(avg, seen):
        return ("the first vector given to the MLP is not the global average: take the mean over "
                "H and W together (dims 2 and 3), once per sample and channel.")
    expected = torch.sigmoid(m_avg + m_max)[:, :, None, None]
    error = (answer - expected).abs().max().item()
    return (f"the gate differs from sigma(MLP(GAP(x)) + MLP(GMP(x))) by up to {error:.3g} for x of shape "
            f"{shape}: pool over H and W (dims 2 and 3) and check the order of the steps.")


@reader_check
def check_channel_gate(channel_gate: Callable[[Tensor, nn.Module], Tensor]) -> None:
    """Check a reader's CBAM channel gate against the package's ``ChannelGate``.

    Args:
        channel_gate: ``channel_gate(x, mlp) -> a_c``. ``x`` has shape (N, C, H, W); ``mlp`` is an
            ``nn.Sequential(Linear(C, C // r), ReLU(), Linear(C // r, C))`` mapping (N, C) to
            (N, C). The answer must return a_c = sigma(MLP(GAP(x)) + MLP(GMP(x))) of shape
            (N, C, 1, 1) (eq. cbam-channel), using the one MLP for both pooled vectors.

    Raises:
        AssertionError: with one sentence naming the mistake (average pooling only, separate
            MLPs, sigmoid before the sum, vectors summed before the MLP, wrong shape, ...).
    """
    for i, (n, c, h, w, r) in enumerate(_GATE_CASES):
        gen = torch.Generator().manual_seed(1000 + i)
        module = ChannelGate(c, reduction=r)
        _randomize(module, gen)
        mlp = nn.Sequential(module.fc1, nn.ReLU(), module.fc2)
        x = 2 * torch.randn(n, c, h, w, generator=gen) + 0.5
        seen: list[Tensor] = []
        first = module.fc1

        def record(layer: nn.Module, inputs: tuple[Tensor, ...], _out: Tensor) -> None:
            if layer is first:  # a deep copy of the MLP copies this hook too: ignore the copy
                seen.append(inputs[0].detach().reshape(-1, inputs[0].shape[-1]))

        handle = first.register_forward_hook(record)
        try:
            answer = call_answer(channel_gate, x.clone(), mlp)
        finally:
            handle.remove()
        answer = as_tensor(answer, (n, c, 1, 1)).float()
        if list(answer.shape) != [n, c, 1, 1]:
            raise AssertionError(
                f"for x of shape {[n, c, h, w]} the gate has shape {list(answer.shape)} instead of {[n, c, 1, 1]}: "
                f"pool over H and W (dims 2 and 3) and give the gate two trailing axes of size 1."
            )
        with torch.no_grad():
            expected = module.gate(x)
        if not close(answer, expected):
            raise AssertionError(_diagnose_gate(answer, x, mlp, seen))
    print(f"Correct: sigma(MLP(GAP(x)) + MLP(GMP(x))) with one shared MLP matches ChannelGate "
          f"for {len(_GATE_CASES)} random inputs.")


def _reference_pool(x: Tensor) -> Tensor:
    """The package's spatial-gate input: [max over channels, mean over channels] (SpatialGate.gate)."""
    return torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)


def _diagnose_pool(answer: Tensor, x: Tensor) -> str:
    mx, mean = x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)
    known = [
        (torch.cat([mean, mx], dim=1), "the maps are in the order [mean, max]: CBAM puts the max map first "
         "and the mean map second, and the convolution's weights depend on that order."),
        (torch.cat([mx, x.sum(dim=1, keepdim=True)], dim=1), "the second map is the sum over channels, "
         "not the mean: divide by C (or use mean)."),
        (torch.cat([mx, mx], dim=1), "both maps are the maximum: the second map must be the mean over channels."),
        (torch.cat([mean, mean], dim=1), "both maps are the mean: the first map must be the maximum over channels."),
        (torch.cat([x.amin(dim=1, keepdim=True), mean], dim=1), "the first map is the minimum over channels: "
         "it must be the maximum."),
    ]
    for candidate, message in known:
        if close(answer, candidate):
            return message
    error = (answer - _reference_pool(x)).abs().max().item()
    return (f"the maps differ from [max over channels, mean over channels] by up to {error:.3g} for x of "
            f"shape {list(x.shape)}: pool over dim=1 and concatenate the max map before the mean map.")


@reader_check
def check_spatial_pool(spatial_pool: Callable[[Tensor], Tensor]) -> None:
    """Check a reader's input of CBAM's spatial gate: [max over C, mean over C], shape (N, 2, H, W).

    Args:
        spatial_pool: ``spatial_pool(x) -> p`` with x of shape (N, C, H, W) and p of shape
            (N, 2, H, W): p[:, 0] the maximum over channels, p[:, 1] the mean over channels
            (eq. cbam-spatial-pool; the order of the official code).

    Raises:
        AssertionError: with one sentence naming the mistake (mean first, pooling over the wrong
            axis, sum instead of mean, input changed in place, ...).
    """
    for i, (n, c, h, w) in enumerate(_POOL_CASES):
        gen = torch.Generator().manual_seed(2000 + i)
        x = torch.randn(n, c, h, w, generator=gen)
        x_copy = x.clone()
        answer = call_answer(spatial_pool, x)
        if not torch.equal(x, x_copy):
            raise AssertionError("the function changed its input x in place: pooling must leave x as it was.")
        answer = as_tensor(answer, (n, 2, h, w)).float()
        if list(answer.shape) != [n, 2, h, w]:
            raise AssertionError(
                f"for x of shape {[n, c, h, w]} the result has shape {list(answer.shape)} instead of {[n, 2, h, w]}: "
                f"pool over the channel axis (dim=1, keepdim=True) and concatenate the two maps along dim=1."
            )
        if not close(answer, _reference_pool(x)):
            raise AssertionError(_diagnose_pool(answer, x))
    print(f"Correct: [max over channels, mean over channels] matches CBAM's spatial gate input "
          f"for {len(_POOL_CASES)} random shapes.")
