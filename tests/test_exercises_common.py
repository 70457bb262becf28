"""Every chapter's checks report a reader's failing or unfinished code the same way: one sentence."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from lightattn_ref import exercises
from lightattn_ref.exercises._common import answer_error, as_tensor, call_answer, reject_known_mistakes

# every check: each one takes the reader's function or class
CALLABLE_CHECKS = sorted(name for name in dir(exercises) if name.startswith("check_"))

# the checks whose answer is a tensor, with the shape the first case expects
TENSOR_CHECKS = {
    "check_scale": r"\(1, 6, 6, 6\)",
    "check_channel_gate": r"\(\d+, \d+, 1, 1\)",
    "check_spatial_pool": r"\(\d+, 2, \d+, \d+\)",
    "check_eca_matrix": r"\(\d+, \d+\)",
    "check_gate_in_chunks": r"\(\d+, \d+, \d+, \d+\)",
    "check_gate_summary": r"\(6,\)",
    "check_gradcam_weights": r"\(\d+, \d+, \d+\)",
    "check_channel_shuffle": r"\(\d+, \d+, \d+, \d+\)",
    "check_sa_spatial_gate": r"\(\d+, \d+, \d+, \d+\)",
    "check_subspace_softmax": r"\(2, 4, 5, 7\)",
    "check_ulsam_output": r"\(2, 8, 5, 7\)",
}


def stub(*args: object) -> object:
    raise NotImplementedError("your code here")


def broken(*args: object) -> object:
    raise ZeroDivisionError("division by zero")


def a_list(*args: object) -> object:
    return [1.0, 2.0]


def test_the_list_of_checks_is_complete() -> None:
    assert len(CALLABLE_CHECKS) >= 19
    assert set(TENSOR_CHECKS) <= set(CALLABLE_CHECKS)


@pytest.mark.parametrize("name", CALLABLE_CHECKS)
def test_an_unfinished_stub_is_not_attempted_yet(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The notebooks' stubs raise NotImplementedError: every check prints one line and returns,
    so a chapter runs top to bottom, and never says "Correct"."""
    getattr(exercises, name)(stub)
    assert capsys.readouterr().out == "Not attempted yet: write `stub` above, then run this cell again.\n"


@pytest.mark.parametrize("name", CALLABLE_CHECKS)
def test_an_ellipsis_is_not_attempted_yet(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Otter's student notebooks and value exercises leave ``...`` where the answer goes."""
    getattr(exercises, name)(...)
    assert capsys.readouterr().out == "Not attempted yet: write `your answer` above, then run this cell again.\n"


@pytest.mark.parametrize("name", CALLABLE_CHECKS)
def test_a_failing_answer_gets_one_sentence(name: str) -> None:
    with pytest.raises(AssertionError, match="raised ZeroDivisionError: division by zero"):
        getattr(exercises, name)(broken)


@pytest.mark.parametrize("name", sorted(TENSOR_CHECKS))
def test_an_answer_that_is_not_a_tensor_is_named(name: str) -> None:
    with pytest.raises(AssertionError, match=r"returned a value of type list, not a tensor of shape " + TENSOR_CHECKS[name]):
        getattr(exercises, name)(a_list)


def test_a_module_that_returns_no_tensor_is_named() -> None:
    class ReturnsList(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.ones(channels))

        def forward(self, x: Tensor) -> object:
            return [x]

    with pytest.raises(AssertionError, match=r"the module returned a value of type list, not a tensor of shape \(2, 8, 5, 3\)"):
        exercises.check_se_var2(ReturnsList)


def test_call_answer_runs_without_autograd_and_returns_the_result() -> None:
    x = torch.ones(3, requires_grad=True)
    result = call_answer(lambda t: t * 2, x)
    assert isinstance(result, Tensor) and not result.requires_grad
    torch.testing.assert_close(result, torch.full((3,), 2.0))


def test_answer_error_explains_a_view_of_a_transposed_tensor() -> None:
    try:
        torch.ones(2, 3).t().view(6)
    except RuntimeError as error:
        message = str(answer_error(error, "fn"))
    assert message.startswith("fn raised RuntimeError: view size is not compatible")
    assert "use reshape" in message


def test_as_tensor_detaches() -> None:
    x = torch.ones(2, requires_grad=True) * 3
    assert not as_tensor(x, (2,)).requires_grad


def test_reject_known_mistakes_names_the_first_match_only() -> None:
    got = torch.tensor([1.0, 2.0])
    mistakes: list[tuple[Tensor, str]] = [
        (torch.tensor([1.0, 2.0, 3.0]), "other shape"),  # a shape mismatch is no match, not an error
        (torch.tensor([1.0, 2.5]), "other values"),
        (torch.tensor([1.0, 2.0 + 1e-7]), "first match"),
        (got.clone(), "second match"),
    ]
    with pytest.raises(AssertionError, match="^first match$"):
        reject_known_mistakes(got, mistakes)
    reject_known_mistakes(got, mistakes[:2])  # no match: returns, and the caller explains
