"""torch.compile(fullgraph=True) runs every module, in eval and in training, and matches eager.

The eager inference fast paths write into views with ``out=``, which the compiler cannot trace;
under compilation each module takes its textbook form (see ``use_fast_path``), except that
ULSAM hands the compiler its pool-and-sum as one operator in inference
(``attention/ops.py``, tested in ``test_compiled_ops.py``).
"""

from __future__ import annotations

import pytest
import torch

from lightattn_ref import ATTENTION_NAMES, make_attention
from lightattn_ref.attention._checks import use_fast_path

CHANNELS = 64


def build(name: str, training: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    module = make_attention(name, CHANNELS, **({"groups": 8} if name == "sa" else {}))
    with torch.no_grad():  # off the initial values, so that every gate varies
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return module.train(training)


@pytest.mark.parametrize("name", ATTENTION_NAMES)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_compiled_fullgraph_matches_eager(name: str, training: bool) -> None:
    eager, compiled_module = build(name, training), build(name, training)
    compiled = torch.compile(compiled_module, fullgraph=True)
    x = torch.randn(2, CHANNELS, 9, 7)
    with torch.set_grad_enabled(training):
        expected, y = eager(x), compiled(x)
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)


def test_fast_paths_are_off_under_autograd_training_and_compilation() -> None:
    x = torch.ones(1)
    with torch.no_grad():
        assert use_fast_path(True, False, x)
        assert not use_fast_path(False, False, x)  # the module's switch
        assert not use_fast_path(True, True, x)  # training mode, for paths that fold eval-mode BatchNorm
        assert torch.compile(lambda t: use_fast_path(True, False, t), fullgraph=True)(x) is False
    assert not use_fast_path(True, False, x)  # autograd is on
