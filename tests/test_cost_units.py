"""Unit conversions of published figures: binary prefixes and MACs, exactly."""

from __future__ import annotations

import pytest

from lightattn_ref.cost import convert_units, format_published


def test_convert_units_binary_prefixes_and_macs_exactly() -> None:
    # ECA-Net's ResNet-50: "24.37M params, 3.86 GFLOPs", both with binary prefixes (ECANet issue #35)
    assert convert_units(24.37, "Mi params", "params") == 24.37 * 2**20
    assert convert_units(24.37, "Miparams", "Mparams") == 24.37 * 2**20 / 1e6
    assert round(convert_units(24.37, "Mi params", "M params"), 2) == 25.55
    assert convert_units(3.86, "GiFLOPs", "FLOPs") == 3.86 * 2**30
    assert round(convert_units(3.86, "GiFLOPs", "GFLOPs"), 2) == 4.14
    assert convert_units(4.1, "GMACs", "GFLOPs") == 8.2  # 1 MAC = 2 FLOPs
    assert convert_units(8.2, "GFLOPs", "MMACs") == pytest.approx(4100.0, rel=1e-15)
    assert convert_units(1, "MiB", "B") == 1_048_576 and convert_units(1e6, "B", "MB") == 1.0


def test_convert_units_rejects_unknown_and_mismatched_units() -> None:
    with pytest.raises(ValueError, match="from_unit"):
        convert_units(1.0, "GFLOPS/s", "FLOPs")
    with pytest.raises(ValueError, match="to_unit"):
        convert_units(1.0, "Mparams", "GFLOPs")
    with pytest.raises(ValueError, match="to_unit"):
        convert_units(1.0, "MB", "Xparams")


def test_format_published_restates_a_paper_figure() -> None:
    assert format_published(3.86, "GFLOPs", binary=True) == (
        "3.86 GFLOPs (binary prefix, G = 2^30) = 4.145 GFLOPs = 2.072 GMACs (decimal prefixes)"
    )
    assert format_published(24.37, "M params", binary=True) == (
        "24.37 M params (binary prefix, M = 2^20) = 25.55M params (decimal prefixes)"
    )
    assert format_published(4.1, "GMACs") == "4.1 GMACs = 8.2 GFLOPs (decimal prefixes)"
    with pytest.raises(ValueError, match="unit"):
        format_published(3.86, "GiFLOPs", binary=True)
