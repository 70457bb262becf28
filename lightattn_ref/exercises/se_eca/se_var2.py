"""``check_se_var2``: SE-Var2 of the ECA paper, one gate weight per channel and no mixing."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .._common import answer_error, reader_check
from ._shared import _gated_output


_VAR2_SHAPES: tuple[tuple[int, int, int, int], ...] = ((2, 8, 5, 3), (1, 64, 4, 7), (3, 96, 2, 2))


@reader_check
def check_se_var2(module_cls: Callable[[int], nn.Module]) -> None:
    """Check a reader's SE-Var2 module: y = sigma(w ⊙ GAP(x)) ⊙ x with one weight per channel.

    Args:
        module_cls: ``module_cls(channels)`` builds the module; it must hold exactly C trainable
            parameters in one tensor (any shape with C elements, e.g. (C,) or (C, 1, 1)): the
            diagonal of SE-Var2's C x C matrix. No bias, no channel mixing.

    The check writes random values into that tensor, in its natural (flattened) order, and
    compares the module's output with the formula on several shapes. Prints one line when it
    is right. Raises ``AssertionError`` with one sentence otherwise, naming the mistake: a full
    C x C matrix (that is SE-Var3), a bias, another parameter count, a missing sigmoid, max
    pooling, the gate returned instead of the product, or another difference.
    """
    for seed, (n, c, h, w) in enumerate(_VAR2_SHAPES):
        try:
            module = module_cls(c)
        except TypeError as error:
            raise AssertionError(f"module_cls({c}) failed: it must take the number of channels C ({error}).") from None
        except Exception as error:  # noqa: BLE001 - any other failure of the reader's code is reported
            raise answer_error(error, f"module_cls({c})") from None
        params = [p for p in module.parameters() if p.requires_grad]
        count = sum(p.numel() for p in params)
        if count in (c * c, c * c + c):
            raise AssertionError(
                f"SE-Var2 for C={c} has {count:,} parameters: that is a full C x C matrix (SE-Var3); SE-Var2 "
                f"keeps only its diagonal, one weight per channel ({c} parameters)."
            )
        if count == 2 * c:
            raise AssertionError(
                f"SE-Var2 for C={c} has {count} parameters, 2C: the ECA paper's SE-Var2 has no bias, only one "
                f"weight per channel ({c} parameters)."
            )
        if count != c or len(params) != 1:
            raise AssertionError(
                f"SE-Var2 for C={c} must hold exactly C = {c} parameters in one tensor (the diagonal of its "
                f"matrix); yours has {count:,} in {len(params)} tensor(s)."
            )
        gen = torch.Generator().manual_seed(200 + seed)
        weight = torch.randn(c, generator=gen)
        x = torch.randn(n, c, h, w, generator=gen)
        with torch.no_grad():
            params[0].copy_(weight.view_as(params[0]))
        module.eval()
        s = x.mean(dim=(2, 3))
        gate = torch.sigmoid(weight * s)[:, :, None, None]
        y = _gated_output(module, x, gate)
        if torch.allclose(y, x * gate, atol=1e-5):
            continue
        if torch.allclose(y, x * (weight * s)[:, :, None, None], atol=1e-5):
            raise AssertionError("the gate is missing its sigmoid: a = sigma(w ⊙ GAP(x)) must lie in (0, 1).")
        if torch.allclose(y, x * torch.sigmoid(weight * x.amax(dim=(2, 3)))[:, :, None, None], atol=1e-5):
            raise AssertionError("the module pools with the maximum; SE-Var2 squeezes with global average pooling.")
        if torch.allclose(y, x * torch.sigmoid(s)[:, :, None, None], atol=1e-5):
            raise AssertionError(
                "the module ignores its weight: that is SE-Var1; multiply each pooled value by its weight."
            )
        raise AssertionError(
            f"the module's output differs from sigma(w ⊙ GAP(x)) ⊙ x for x of shape {(n, c, h, w)}, with w its "
            f"{c} weights in order."
        )
    print(f"Correct: your SE-Var2 has C weights and matches sigma(w ⊙ GAP(x)) ⊙ x on {len(_VAR2_SHAPES)} shapes.")
