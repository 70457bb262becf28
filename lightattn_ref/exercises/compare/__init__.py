"""Exercise checks for the comparison chapter (notebooks/07_compare.ipynb).

- ``check_param_formula``: the parameter count of SE, CBAM and Coordinate Attention as a
  function of C and r (eqs. cost-se-params, cost-cbam-params, cost-ca-params), compared with
  ``count_parameters(make_attention(name, C, reduction=r))``.
- ``check_unit_conversion``: a published cost figure (decimal or binary prefix, FLOPs or MACs)
  turned into plain FLOPs (eq. cost-units), compared with ``cost.convert_units``.
- ``check_counted_flops``: the FLOPs ``count_flops`` reports for SE, ECA, CBAM and Coordinate
  Attention at a shape (N, C, H, W), predicted from their layers (eq. cost-flops).
"""

from __future__ import annotations

from .flops import FLOP_NAMES, check_counted_flops
from .params import PARAM_FORMULA_NAMES, check_param_formula
from .units import UNIT_PREFIXES, check_unit_conversion

__all__: list[str] = [
    "check_counted_flops",
    "check_param_formula",
    "check_unit_conversion",
    "FLOP_NAMES",
    "PARAM_FORMULA_NAMES",
    "UNIT_PREFIXES",
]
