"""Exercise checks for the SE-to-ECA chapter (notebooks/02_se_to_eca.ipynb).

- ``check_psi``: ECA's kernel-size rule k = psi(C) = |log2(C)/gamma + b/gamma|_odd (eq. eca-psi).
- ``check_se_var2``: SE-Var2 of the ECA paper, a = sigma(w ⊙ GAP(x)), one weight per channel.
- ``check_eca_matrix``: the C x C banded matrix that ECA's 1-D convolution multiplies by (eq. eca-gate).
- ``check_eca_ns``: ECA-NS, the band of ECA with k weights of its own for every channel (C·k in all).
"""

from __future__ import annotations

from .eca_matrix import check_eca_matrix
from .eca_ns import check_eca_ns
from .psi import check_psi, reference_psi
from .se_var2 import check_se_var2

__all__: list[str] = ["check_eca_matrix", "check_eca_ns", "check_psi", "check_se_var2", "reference_psi"]
