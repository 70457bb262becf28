"""The appendix's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from lightattn_ref.exercises.fast import check_chunk_channels, check_gate_in_chunks, reference_chunk_channels

NOT_ATTEMPTED = "Not attempted yet: write `{}` above, then run this cell again.\n"


# ------------------------------------------------------------------------------- gate in chunks
def gate_right(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    n, c = x.shape[:2]
    if gate.shape != (n, c, 1, 1):
        raise ValueError(f"gate must have shape {(n, c, 1, 1)}")
    for c0 in range(0, c, chunk):
        x[:, c0:c0 + chunk].mul_(gate[:, c0:c0 + chunk])
    return x


def gate_imul(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    """*= on slices, with an explicit end: right too."""
    if tuple(gate.shape) != (x.shape[0], x.shape[1], 1, 1):
        raise ValueError("wrong gate shape")
    c = x.shape[1]
    for c0 in range(0, c, chunk):
        c1 = min(c0 + chunk, c)
        x[:, c0:c1] *= gate[:, c0:c1]
    return x


def gate_split(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    """torch.split views and out=: right too."""
    if gate.dim() != 4 or gate.shape[:2] != x.shape[:2] or gate.shape[2:] != (1, 1):
        raise ValueError("wrong gate shape")
    for part, g in zip(x.split(chunk, dim=1), gate.split(chunk, dim=1)):
        torch.mul(part, g, out=part)
    return x


@pytest.mark.parametrize("answer", [gate_right, gate_imul, gate_split], ids=["mul_", "imul", "split-out"])
def test_gate_in_chunks_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_gate_in_chunks(answer)
    assert capsys.readouterr().out.startswith("Correct: x * gate in place, a chunk at a time")


def test_gate_in_chunks_stub_is_not_attempted(capsys: pytest.CaptureFixture[str]) -> None:
    def gate_in_chunks(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
        raise NotImplementedError("your code here")

    check_gate_in_chunks(gate_in_chunks)
    assert capsys.readouterr().out == NOT_ATTEMPTED.format("gate_in_chunks")


def unchecked(body):  # noqa: ANN001, ANN201
    """A wrong body behind a right shape check, so each test reaches the slip it is about."""

    def answer(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
        if gate.shape != (x.shape[0], x.shape[1], 1, 1):
            raise ValueError("wrong gate shape")
        return body(x, gate, chunk)

    return answer


def first_chunk_only(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    x[:, :chunk] *= gate[:, :chunk]
    return x


def no_tail(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    for c0 in range(0, x.shape[1] - chunk + 1, chunk):
        x[:, c0:c0 + chunk] *= gate[:, c0:c0 + chunk]
    return x


def same_gate_slice(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    for c0 in range(0, x.shape[1], chunk):
        part = x[:, c0:c0 + chunk]
        part *= gate[:, : part.shape[1]]
    return x


def no_chunks(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    return x.mul_(gate)


def full_temporary(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    return x.copy_(x * gate)


def new_tensor(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    return torch.cat([x[:, c0:c0 + chunk] * gate[:, c0:c0 + chunk] for c0 in range(0, x.shape[1], chunk)], dim=1)


def returns_clone(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    return gate_right(x, gate, chunk).clone()


def does_nothing(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    return x


def divides(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    for c0 in range(0, x.shape[1], chunk):
        x[:, c0:c0 + chunk] /= gate[:, c0:c0 + chunk]
    return x


def no_shape_check(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    for c0 in range(0, x.shape[1], chunk):
        x[:, c0:c0 + chunk] *= gate[:, c0:c0 + chunk]
    return x


def late_shape_check(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    if gate.dim() != 4:
        raise ValueError("gate must have four axes")
    no_shape_check(x, gate[:, : x.shape[1]], chunk)
    if gate.shape[1] != x.shape[1]:
        raise ValueError("gate and x have different numbers of channels")
    return x


def assert_error(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
    assert gate.shape == (x.shape[0], x.shape[1], 1, 1)
    return no_shape_check(x, gate, chunk)


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (unchecked(first_chunk_only), "Only the first chunk"),
        (unchecked(no_tail), "last, shorter chunk is missing"),
        (unchecked(same_gate_slice), "slice the gate like x"),
        (unchecked(no_chunks), "more than a chunk's"),
        (unchecked(full_temporary), "more than a chunk's"),
        (unchecked(new_tensor), "returned a new tensor and left x as it was"),
        (unchecked(returns_clone), "Return x itself"),
        (unchecked(does_nothing), "x is unchanged"),
        (unchecked(divides), "differs from x \\* gate"),
        (unchecked(lambda x, g, c: [x]), "not a tensor of shape \\(2, 10, 5, 7\\)"),
        (no_shape_check, "raised RuntimeError.*raise ValueError"),
        (lambda x, g, c: no_shape_check(x, g.reshape(x.shape[0], -1, 1, 1)[:, : x.shape[1]], c), "accepted a gate"),
        (late_shape_check, "only after writing into x"),
        (assert_error, "raised AssertionError"),
    ],
    ids=["first-chunk", "no-tail", "gate-not-sliced", "no-chunks", "full-temporary", "new-tensor", "clone",
         "unchanged", "divides", "list", "no-shape-check", "accepts-bad-gate", "late-check", "assert"],
)
def test_gate_in_chunks_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_gate_in_chunks(wrong)


def test_a_broken_gate_answer_gets_one_sentence() -> None:
    def broken(x: Tensor, gate: Tensor, chunk: int) -> Tensor:
        raise ZeroDivisionError("division by zero")

    with pytest.raises(AssertionError, match="raised ZeroDivisionError: division by zero"):
        check_gate_in_chunks(broken)


# ------------------------------------------------------------------------------- chunk channels
def chunk_right(shape, cache_bytes: int, element_size: int = 4) -> int:  # noqa: ANN001
    n, c, h, w = shape
    return max(1, min(c, cache_bytes // (n * h * w * element_size)))


def chunk_loop(shape, cache_bytes: int, element_size: int = 4) -> int:  # noqa: ANN001
    """Grow the chunk while the next channel still fits: right too."""
    n, c, h, w = shape
    k = 1
    while k < c and n * (k + 1) * h * w * element_size <= cache_bytes:
        k += 1
    return k


@pytest.mark.parametrize("answer", [chunk_right, chunk_loop], ids=["formula", "loop"])
def test_chunk_channels_accepts(answer, capsys: pytest.CaptureFixture[str]) -> None:
    check_chunk_channels(answer)
    assert capsys.readouterr().out.startswith("Correct: channels per cache-sized chunk")


def test_chunk_channels_stub_is_not_attempted(capsys: pytest.CaptureFixture[str]) -> None:
    def chunk_channels(shape, cache_bytes: int, element_size: int = 4) -> int:  # noqa: ANN001
        raise NotImplementedError("your code here")

    check_chunk_channels(chunk_channels)
    assert capsys.readouterr().out == NOT_ATTEMPTED.format("chunk_channels")
    check_chunk_channels(...)
    assert capsys.readouterr().out == NOT_ATTEMPTED.format("your answer")


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda s, m, b=4: min(s[1], m // (s[0] * s[2] * s[3] * b)), "at least one channel"),
        (lambda s, m, b=4: max(1, m // (s[0] * s[2] * s[3] * b)), "clip at C"),
        (lambda s, m, b=4: max(1, min(s[1], m // (s[2] * s[3] * b))), "forgot the batch"),
        (lambda s, m, b=4: max(1, min(s[1], m // (s[0] * s[2] * s[3]))), "counted elements, not bytes"),
        (lambda s, m, b=4: max(1, min(s[1], -(-m // (s[0] * s[2] * s[3] * b)))), "Rounding up"),
        (lambda s, m, b=4: max(1, min(s[1], round(m / (s[0] * s[2] * s[3] * b)))), "Rounding up"),
        (lambda s, m, b=4: float(chunk_right(s, m, b)), "return an int"),
        (lambda s, m, b=4: str(chunk_right(s, m, b)), "as an int"),
        (lambda s, m, b=4: chunk_right(s, m, b) + 2, "channels fit, not"),
    ],
    ids=["no-lower-bound", "no-upper-bound", "no-batch", "elements", "ceil", "round", "float", "string", "off"],
)
def test_chunk_channels_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_chunk_channels(wrong)


def test_the_reference_at_a_few_shapes() -> None:
    """ResNet-50 stage 1 at batch 8: one channel of all 8 images is 8 * 56 * 56 * 4 = 100,352 bytes, so 10 fit
    in 1 MiB; a small map fits whole; a map of which not even one channel fits still gets one."""
    assert reference_chunk_channels((8, 256, 56, 56), 1 << 20) == 10
    assert reference_chunk_channels((8, 256, 56, 56), 1 << 20, 2) == 20
    assert reference_chunk_channels((1, 64, 7, 7), 1 << 20) == 64
    assert reference_chunk_channels((64, 64, 112, 112), 1 << 20) == 1
