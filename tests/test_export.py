"""TorchScript and ONNX (run with onnxruntime) reproduce the eager outputs of every module."""

from __future__ import annotations

import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import randomize
from lightattn_ref import ATTENTION_NAMES, make_attention

SHAPE = (2, 128, 9, 7)  # non-square on purpose


def module_and_input(name: str) -> tuple[torch.nn.Module, torch.Tensor]:
    module = randomize(make_attention(name, SHAPE[1])).eval()
    return module, torch.randn(SHAPE, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_torchscript_matches_eager(name: str) -> None:
    module, x = module_and_input(name)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*torch.jit.script.*deprecated", category=DeprecationWarning)
        scripted = torch.jit.script(module)
    torch.testing.assert_close(scripted(x), module(x), rtol=1e-5, atol=1e-5)
    with pytest.raises(torch.jit.Error, match="channels=128"):  # the input checks survive scripting
        scripted(x[:, :64])


@pytest.mark.parametrize("name", ATTENTION_NAMES)
def test_onnx_export_matches_eager(name: str) -> None:
    module, x = module_and_input(name)
    program = torch.onnx.export(module, (x,), dynamo=True, verbose=False)
    session = ort.InferenceSession(program.model_proto.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(y, module(x).detach().numpy(), rtol=1e-5, atol=1e-5)
