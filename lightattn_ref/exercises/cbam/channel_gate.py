"""Exercise check: CBAM's channel gate, one shared MLP on the average and the max pool."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ...attention.cbam import ChannelGate
from .._common import ATOL, as_tensor, call_answer, close, reader_check

# (N, C, H, W, r): non-square maps, batch 1, H * W > 1 so that GAP and GMP differ
_GATE_CASES: tuple[tuple[int, int, int, int, int], ...] = (
    (2, 32, 5, 7, 8),
    (1, 64, 4, 4, 16),
    (3, 48, 6, 3, 4),
    (2, 16, 2, 9, 2),
    (4, 24, 3, 5, 3),
)


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
        channel_gate: ``channel_gate(x, mlp) -> a_ch``. ``x`` has shape (N, C, H, W); ``mlp`` is an
            ``nn.Sequential(Linear(C, C // r), ReLU(), Linear(C // r, C))`` mapping (N, C) to
            (N, C). The answer must return a_ch = sigma(MLP(GAP(x)) + MLP(GMP(x))) of shape
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
