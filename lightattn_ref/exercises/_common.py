"""What the chapters' checks share: calling the reader's answer and comparing tensors.

Every check calls the reader's code through ``call_answer`` (or turns its exception into a
sentence with ``answer_error``), so code that fails reads the same in every chapter: one
sentence. An exercise still left as its stub (``raise NotImplementedError`` or ``...``) is not
an error at all: every public check is wrapped in ``reader_check``, which prints one line,
"Not attempted yet", and returns, so a chapter runs top to bottom before the reader has
written anything, and an autograder sees that line instead of "Correct".
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import torch
from torch import Tensor

ATOL, RTOL = 1e-5, 1e-4

Check = TypeVar("Check", bound=Callable[..., None])


class NotAttempted(AssertionError):
    """The reader's answer is still the stub: it raises ``NotImplementedError`` or is ``...``."""


def reader_check(check: Check) -> Check:
    """Wrap a ``check_*(answer)``: a stub answer prints one line instead of raising.

    The line names the answer (its ``__name__``, e.g. ``psi`` or ``SEVar2``) so the reader
    knows what to write. A wrong answer still raises ``AssertionError`` with its sentence, and a
    right one prints the check's "Correct" line.
    """

    @functools.wraps(check)
    def graded(answer: object, *args: object, **kwargs: object) -> None:
        try:
            if answer is Ellipsis:  # the blank that value exercises (and otter's prompts) leave
                raise NotAttempted("the answer is still `...`")
            check(answer, *args, **kwargs)
        except NotAttempted:
            name = getattr(answer, "__name__", "your answer")
            print(f"Not attempted yet: write `{name}` above, then run this cell again.")

    return graded  # type: ignore[return-value]


def answer_error(error: Exception, what: str = "the function") -> AssertionError:
    """One sentence saying how the reader's code (``what``) failed, to raise ``from None``.

    ``NotImplementedError``, the stubs' body, gives ``NotAttempted``, which ``reader_check`` reports.
    """
    if isinstance(error, NotImplementedError):
        return NotAttempted(f"{what} still raises NotImplementedError: replace its body with your code.")
    message = str(error).splitlines()[0] if str(error) else ""
    hint = ""
    if "view size is not compatible" in message:
        hint = " (a transposed tensor is not contiguous: use reshape, which copies when it must, instead of view)"
    return AssertionError(f"{what} raised {type(error).__name__}: {message}{hint}.")


def call_answer(fn: Callable[..., object], *args: object, what: str = "the function") -> object:
    """Call the reader's ``fn(*args)`` without autograd; turn any failure into a one-sentence AssertionError."""
    try:
        with torch.no_grad():
            return fn(*args)
    except Exception as error:  # noqa: BLE001 - any failure of the reader's code is reported
        raise answer_error(error, what) from None


def as_tensor(answer: object, shape: Sequence[int], what: str = "the function") -> Tensor:
    """The reader's answer, detached, when it is a tensor; otherwise say what came back instead.

    ``shape`` is the expected shape, named in the sentence; the caller checks the shape itself,
    since a wrong shape usually points at a mistake worth its own sentence.
    """
    if not isinstance(answer, Tensor):
        raise AssertionError(
            f"{what} returned a value of type {type(answer).__name__}, not a tensor of shape {tuple(shape)}."
        )
    return answer.detach()


def close(a: Tensor, b: Tensor, *, atol: float = ATOL, rtol: float = RTOL) -> bool:
    """Same shape and equal values within the tolerance (by default the checks' common one)."""
    return a.shape == b.shape and bool(torch.allclose(a, b, atol=atol, rtol=rtol))


def reject_known_mistakes(got: Tensor, mistakes: Iterable[tuple[Tensor, str]], *, atol: float = ATOL) -> None:
    """Raise the sentence of the first typical mistake whose result equals ``got``.

    Args:
        got: the reader's (wrong) result. mistakes: pairs of (what that mistake computes, the
            sentence that names it), most specific first.
    """
    for result, message in mistakes:
        if close(got, result, atol=atol, rtol=1e-5):
            raise AssertionError(message)
