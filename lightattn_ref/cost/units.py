"""Units of published costs: FLOPs vs MACs, decimal vs binary prefixes.

Papers print costs with binary prefixes and MACs as often as with decimal prefixes and FLOPs
(ECA-Net's "3.86 GFLOPs" has G = 2^30). ``convert_units`` converts between them with
FLOPs = value * U * o (chapter 07, eq. ``eq-cost-units``: U the prefix, o = 2 for MACs and 1 for
FLOPs), and ``format_published`` restates a paper's figure so that "published" and "measured"
can stand side by side. "MB" is 10^6 bytes and "MiB" is 2^20 bytes.
"""

from __future__ import annotations

import math
import re

_PREFIXES: dict[str, float] = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
_BINARY_PREFIXES: dict[str, float] = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40}
_QUANTITIES = ("FLOPs", "MACs", "params", "B", "")
_FLOPS_PER: dict[str, float] = {"FLOPs": 1.0, "MACs": 2.0}  # 1 multiply-accumulate = 2 FLOPs
_UNIT = re.compile(r"^(|K|M|G|T|Ki|Mi|Gi|Ti)(FLOPs|MACs|params|B|)$")


def _parse_unit(unit: str, argument: str) -> tuple[float, str]:
    """``"GiFLOPs"`` -> (2**30, "FLOPs"); spaces are ignored ("Mi params")."""
    match = _UNIT.match(unit.replace(" ", "")) if isinstance(unit, str) else None
    if match is None:
        raise ValueError(
            f"{argument}={unit!r} is not a unit: write a prefix (K, M, G, T decimal; Ki, Mi, Gi, Ti "
            f"binary) followed by one of {[q for q in _QUANTITIES if q]} or nothing, e.g. 'GFLOPs', 'MiB'"
        )
    prefix, quantity = match.groups()
    scale = _BINARY_PREFIXES[prefix] if prefix.endswith("i") else _PREFIXES[prefix]
    return scale, quantity


def convert_units(value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` between units with decimal or binary prefixes, and FLOPs <-> MACs.

    Units are a prefix (K, M, G, T = 10^3..10^12; Ki, Mi, Gi, Ti = 2^10..2^40) followed by
    FLOPs, MACs, params, B (bytes) or nothing. FLOPs and MACs convert with 1 MAC = 2 FLOPs;
    other quantities only into themselves. Examples::

        convert_units(24.37, "Mi params", "params")  # 24.37 * 2**20 = 25_553_797.12
        convert_units(3.86, "GiFLOPs", "GFLOPs")      # 3.86 * 2**30 / 1e9 = 4.1446...
        convert_units(4.1, "GMACs", "GFLOPs")         # 8.2
    """
    from_scale, from_quantity = _parse_unit(from_unit, "from_unit")
    to_scale, to_quantity = _parse_unit(to_unit, "to_unit")
    factor = 1.0
    if from_quantity != to_quantity:
        if from_quantity not in _FLOPS_PER or to_quantity not in _FLOPS_PER:
            raise ValueError(f"to_unit={to_unit!r} measures another quantity than from_unit={from_unit!r}")
        factor = _FLOPS_PER[from_quantity] / _FLOPS_PER[to_quantity]
    return value * from_scale * factor / to_scale


def _show(number: str, prefix: str, quantity: str) -> str:
    """'25.55', 'M', 'params' -> '25.55M params'; '4.145', 'G', 'FLOPs' -> '4.145 GFLOPs'."""
    return f"{number}{prefix} params" if quantity == "params" else f"{number} {prefix}{quantity}".rstrip()


def format_published(value: float, unit: str, *, binary: bool = False, digits: int = 4) -> str:
    """A paper's figure, read with the prefix the paper meant and restated with decimal prefixes.

    Args:
        value, unit: as printed, e.g. ``3.86, "GFLOPs"`` or ``24.37, "M params"`` (decimal-looking
            prefix letters K, M, G, T; the quantity FLOPs, MACs, params, B or nothing).
        binary: the paper's prefix is binary (its "G" meant 2^30), as in ECA-Net's tables.
        digits: significant digits of the restated numbers.

    Returns a line for the book, e.g. ``format_published(3.86, "GFLOPs", binary=True)`` ->
    ``'3.86 GFLOPs (binary prefix, G = 2^30) = 4.145 GFLOPs = 2.072 GMACs (decimal prefixes)'``
    and ``format_published(24.37, "M params", binary=True)`` ->
    ``'24.37 M params (binary prefix, M = 2^20) = 25.55M params (decimal prefixes)'``.
    """
    _, quantity = _parse_unit(unit, "unit")
    compact = unit.replace(" ", "")
    prefix = compact[: len(compact) - len(quantity)]
    if prefix.endswith("i"):
        raise ValueError(f"unit={unit!r}: write the prefix as printed (e.g. 'G') and pass binary=True")
    binary = binary and prefix != ""
    read_as = prefix + ("i" if binary else "") + quantity
    shown = f"{value:g} {unit}"
    if binary:
        shown += f" (binary prefix, {prefix} = 2^{round(math.log2(_BINARY_PREFIXES[prefix + 'i']))})"
    quantities = [quantity] + [q for q in _FLOPS_PER if quantity in _FLOPS_PER and q != quantity]
    restated = [
        _show(f"{convert_units(value, read_as, prefix + q):.{digits}g}", prefix, q) for q in quantities
    ]
    if not binary:
        restated = restated[1:]  # the figure itself is already decimal
    return " = ".join([shown, *restated]) + " (decimal prefixes)"
