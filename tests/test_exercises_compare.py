"""The comparison chapter's exercise checks accept right answers and reject typical wrong ones."""

from __future__ import annotations

import pytest

from lightattn_ref import eca_kernel_size, make_attention
from lightattn_ref.cost import convert_units, count_flops, count_parameters
from lightattn_ref.exercises.compare import check_counted_flops, check_param_formula, check_unit_conversion


def formula(name: str, c: int, r: int, *, bias: bool = True, bn: bool = True, floor: bool = True,
            mip_rule: bool = True, spatial: bool = True) -> int | float:
    """The right formulas, with switches that reproduce one typical slip each."""
    h = c // r if floor else c / r
    b = 1 if bias else 0
    if name == "se":
        return 2 * c * h + b * (h + c)
    if name == "cbam":
        return 2 * c * h + b * (h + c) + spatial * (98 + 2 * bn)
    m = max(8, h) if mip_rule else h
    return 3 * c * m + b * (m + 2 * c) + 2 * m * bn


def test_param_formula_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    check_param_formula(formula)
    assert capsys.readouterr().out.startswith("Correct:")
    check_param_formula(lambda name, c, r: count_parameters(make_attention(name, c, reduction=r)))


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda n, c, r: formula(n, c, r, bias=False), "forgot the biases"),
        (lambda n, c, r: round(formula(n, c, r, floor=False)), "floor division"),
        (lambda n, c, r: formula(n, c, r, floor=False), "floor division"),
        (lambda n, c, r: formula(n, c, r, mip_rule=False), "mip rule is missing"),
        (lambda n, c, r: formula(n, c, r, spatial=False), "forgot the spatial gate"),
        (lambda n, c, r: formula(n, c, r, bn=False) if n == "cbam" else formula(n, c, r), "spatial gate's BatchNorm"),
        (lambda n, c, r: formula(n, c, r, bn=False), "BatchNorm after the shared conv|spatial gate's BatchNorm"),
        (lambda n, c, r: formula(n, c, r) + (1 if n == "cbam" else 0), "has no bias"),
        (lambda n, c, r: formula(n, c, r) - 49 if n == "cbam" else formula(n, c, r), "2 x 49 weights"),
        (lambda n, c, r: float(formula(n, c, r)), "float"),
        (lambda n, c, r: str(formula(n, c, r)), "as an int"),
        (lambda n, c, r: formula(n, c, r) + 1, "trainable parameters"),
    ],
    ids=["no-biases", "C/r-rounded", "C/r-float", "no-mip-rule", "no-spatial-gate", "cbam-no-bn", "ca-no-bn",
         "spatial-conv-bias", "one-map-conv", "float-result", "string", "off-by-one"],
)
def test_param_formula_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_param_formula(wrong)


def test_param_formula_rejects_the_mip_rule_only_on_narrow_layers() -> None:
    """C // 32 >= 8 for every wide case, so only the narrow CA cases can catch a missing max(8, .)."""

    def wrong(n: str, c: int, r: int) -> int | float:
        return formula(n, c, r, mip_rule=(c // r >= 8 or n != "coord") and c > 200)

    with pytest.raises(AssertionError, match="mip = max\\(8, C // r\\)"):
        check_param_formula(wrong)


def published_to_flops(value: float, prefix: str, binary: bool, macs: bool) -> float:
    power = "KMGT".index(prefix) + 1
    return value * (2 ** (10 * power) if binary else 10 ** (3 * power)) * (2 if macs else 1)


def test_unit_conversion_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    check_unit_conversion(published_to_flops)
    assert capsys.readouterr().out.startswith("Correct:")
    check_unit_conversion(
        lambda v, p, b, m: convert_units(v, p + ("i" if b else "") + ("MACs" if m else "FLOPs"), "FLOPs")
    )


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda v, p, b, m: published_to_flops(v, p, b, False), "forgot the factor 2"),
        (lambda v, p, b, m: published_to_flops(v, p, b, False) / (2 if m else 1), "divided by 2"),
        (lambda v, p, b, m: published_to_flops(v, p, b, m) * (1 if m else 2), "doubled a figure"),
        (lambda v, p, b, m: published_to_flops(v, p, b, m) / (1 if m else 2), "halved a figure"),
        (lambda v, p, b, m: published_to_flops(v, p, False, m), "G means 2\\^30, not 10\\^9"),
        (lambda v, p, b, m: published_to_flops(v, p, True, m), "mixes up the prefixes"),
        (lambda v, p, b, m: published_to_flops(v, p, not b, not m), "mixes up the prefixes"),
        (lambda v, p, b, m: published_to_flops(v, "M" if p == "G" else p, b, m), "wrong power"),
        (lambda v, p, b, m: published_to_flops(v, p, b, m) * 1.1, "stands for"),
        (lambda v, p, b, m: None, "as a number"),
    ],
    ids=["macs-not-doubled", "macs-halved", "flops-doubled", "flops-halved", "binary-read-as-decimal",
         "decimal-read-as-binary", "both-slips", "wrong-power", "off-by-10-percent", "none"],
)
def test_unit_conversion_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_unit_conversion(wrong)


# ------------------------------------------------------------------------------ counted FLOPs
def flops_formula(name: str, shape: tuple[int, int, int, int], *, per_mac: int = 2, images: bool = True,
                  biases: bool = False, spatial_maps: int = 2, mlp_runs: int = 2, strips: bool = True,
                  mip_rule: bool = True, k: int | None = None) -> int:
    """The right counts, with switches that reproduce one typical slip each."""
    n, c, h, w = shape
    n = n if images else 1
    if name == "se":
        return per_mac * 2 * n * c * (c // 16) + biases * n * (c // 16 + c)
    if name == "eca":
        return per_mac * n * c * (k if k is not None else eca_kernel_size(c))
    if name == "cbam":
        return per_mac * (mlp_runs * 2 * n * c * (c // 16) + n * h * w * 49 * spatial_maps)
    mip = max(8, c // 32) if mip_rule else c // 32
    return per_mac * 2 * n * c * mip * ((h + w) if strips else h * w)


def test_counted_flops_accepts(capsys: pytest.CaptureFixture[str]) -> None:
    check_counted_flops(flops_formula)
    assert capsys.readouterr().out.startswith("Correct: your counts match count_flops")
    check_counted_flops(lambda name, shape: count_flops(make_attention(name, shape[1]), shape))
    assert capsys.readouterr().out.startswith("Correct:")


@pytest.mark.parametrize(
    ("wrong", "message"),
    [
        (lambda n, s: flops_formula(n, s, per_mac=1), "half the counter's: it reports FLOPs, 2 per"),
        (lambda n, s: flops_formula(n, s, images=False), "you counted one image"),
        (lambda n, s: flops_formula(n, s, biases=True), "bias additions"),
        (lambda n, s: flops_formula(n, s, k=3), "k = psi\\(C\\) = 5 taps"),
        (lambda n, s: flops_formula(n, s, mlp_runs=1), "shared MLP runs twice"),
        (lambda n, s: flops_formula(n, s, spatial_maps=0), "forgot the spatial gate"),
        (lambda n, s: flops_formula(n, s, spatial_maps=1), "reads 2 maps"),
        (lambda n, s: flops_formula(n, s, strips=False), "H \\+ W positions per image"),
        (lambda n, s: flops_formula(n, s, mip_rule=False), "mip rule is missing"),
        (lambda n, s: flops_formula(n, s) // (2 if n == "coord" else 1), "count both parts"),
        (lambda n, s: float(flops_formula(n, s)), "float"),
        (lambda n, s: None, "as an int"),
        (lambda n, s: flops_formula(n, s) + 1, "reports"),
    ],
    ids=["macs", "one-image", "biases", "eca-k-3", "cbam-mlp-once", "cbam-no-spatial", "cbam-one-map",
         "ca-every-position", "ca-no-mip-rule", "ca-one-conv", "float", "none", "off-by-one"],
)
def test_counted_flops_rejects(wrong, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_counted_flops(wrong)
