"""The cost table: parameters, counted FLOPs, minimal traffic, latency and its floor, side by side.

``cost_table`` builds every module at every shape with the registry's defaults (or the
documented fallback where a default is invalid), measures it with the other files of this
package, and returns a ``CostTable`` whose ``to_markdown`` needs no pandas. Units: counts are
ints, traffic in MB = 10^6 bytes, times in milliseconds in the Markdown and seconds in the rows.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..registry import ATTENTION_NAMES, make_attention
from ..specs import spec
from ._checks import MS_PER_S, Shape, check_min_run_time, check_mode, check_shape, check_threads, random_input
from .counts import count_flops, count_parameters
from .timing import LatencyResult, floor_latency, measure_latency
from .traffic import MINIMAL_PASSES, memory_traffic, minimal_passes

#: ResNet-50's four stage outputs and a MobileNetV2-like feature map, all at batch 8.
DEFAULT_SHAPES: tuple[Shape, ...] = (
    (8, 256, 56, 56),
    (8, 512, 28, 28),
    (8, 1024, 14, 14),
    (8, 2048, 7, 7),
    (8, 96, 28, 28),
)


@dataclass(frozen=True)
class CostRow:
    """One module at one input shape. Counts are ints, bytes are bytes, times are seconds.

    ``params`` (module not built), ``flops`` and ``latency`` (module not built or not run) are
    None when that failed at this shape; ``note`` then says why. ``traffic`` comes from the
    structure and is always there. ``note`` also records any non-default option
    (e.g. SA's groups fallback).
    """

    name: str
    shape: Shape
    params: int | None
    flops: int | None
    passes: int
    traffic: int
    latency: LatencyResult | None
    floor: LatencyResult
    options: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def floor_ratio(self) -> float | None:
        """Latency / floor latency (dimensionless). A perfectly fused p-pass module scores ~p/2."""
        return None if self.latency is None else self.latency.median / self.floor.median


#: Column headers of ``CostTable.to_markdown``, units in brackets.
COLUMNS: tuple[str, ...] = (
    "module",
    "shape (N, C, H, W)",
    "params",
    "counted FLOPs",
    "min passes",
    "traffic [MB]",
    "latency median [ms]",
    "latency IQR [ms]",
    "runs",
    "floor [ms]",
    "latency / floor",
    "note",
)


@dataclass(frozen=True)
class CostTable:
    """Rows of ``cost_table`` and how they were measured; iterate over it like a list of rows.

    ``to_markdown()`` gives a pandas-free Markdown table (units in the headers, MB = 10^6
    bytes, FLOPs = 2 * MACs as counted by ``count_flops``); ``caption()`` the settings.
    """

    rows: tuple[CostRow, ...]
    mode: str
    threads: int
    min_run_time: float
    dtype: torch.dtype = torch.float32

    def __iter__(self) -> Iterator[CostRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> CostRow:
        return self.rows[index]

    def caption(self) -> str:
        """One sentence with the settings every number in the table depends on."""
        what = "inference forward" if self.mode == "eval" else "forward + backward"
        return (
            f"{what} ({self.mode} mode), {str(self.dtype).replace('torch.', '')}, {self.threads} thread(s), "
            f"torch {torch.__version__}, {platform.machine() or 'unknown CPU'}; latency: median and IQR of "
            f"Timer.blocked_autorange(min_run_time={self.min_run_time:g} s); floor: one copy of x; "
            f"FLOPs: torch.utils.flop_counter (matmul/conv only, 2 per MAC); traffic: minimal passes of an "
            f"eval forward x bytes of x (MB = 10^6 bytes)"
        )

    def to_markdown(self) -> str:
        """The table in GitHub Markdown: a header line, a separator line, one line per row."""
        align = ["---"] * 2 + ["---:"] * (len(COLUMNS) - 3) + ["---"]  # numbers right-aligned
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(align) + "|"]
        lines += ["| " + " | ".join(_cells(row)) + " |" for row in self.rows]
        return "\n".join(lines)


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ms(seconds: float) -> str:
    """Milliseconds with 3 significant digits, without exponents: 0.388, 16.9, 1,230."""
    ms = seconds * MS_PER_S
    return f"{ms:,.0f}" if ms >= 100 else f"{ms:.3g}"


def _cells(row: CostRow) -> list[str]:
    lat, ratio = row.latency, row.floor_ratio
    return [
        row.name,
        "(" + ", ".join(map(str, row.shape)) + ")",
        _count(row.params),
        _count(row.flops),
        str(row.passes),
        f"{row.traffic / 1e6:.1f}",
        "-" if lat is None else _ms(lat.median),
        "-" if lat is None else _ms(lat.iqr),
        "-" if lat is None else str(lat.runs),
        _ms(row.floor.median),
        "-" if ratio is None else f"{ratio:.2f}",
        row.note.replace("|", "/"),
    ]


def _build(name: str, channels: int) -> tuple[nn.Module | None, dict[str, Any], str]:
    """The registry default for ``name`` at ``channels``, or its documented fallback, or None + why."""
    try:
        return make_attention(name, channels), {}, ""
    except ValueError as error:
        fallback = spec(name).fallback(channels)
        if fallback is None:
            return None, {}, f"not built: {error}"
        options, note = fallback
        return make_attention(name, channels, **options), options, note


def cost_table(
    names: Sequence[str] = ATTENTION_NAMES,
    shapes: Sequence[Sequence[int]] = DEFAULT_SHAPES,
    *,
    mode: str = "eval",
    threads: int | None = None,
    min_run_time: float = 0.2,
    dtype: torch.dtype = torch.float32,
) -> CostTable:
    """Parameters, counted FLOPs, minimal traffic, latency and its floor for each module and shape.

    Args:
        names: registry names (default: all of ``ATTENTION_NAMES``), each built with the registry
            defaults; where a default is invalid at a shape the documented fallback is used and
            the row's note says so (SA at C = 96: groups 48), else the row is marked "not built".
        shapes: input shapes (N, C, H, W); default ``DEFAULT_SHAPES`` (ResNet-50 stages and a
            MobileNetV2-like map, batch 8).
        mode: latency of ``"eval"`` (inference forward) or ``"train"`` (forward + backward).
            Parameters, FLOPs and traffic are those of an eval forward in both modes.
        threads: torch intra-op threads for every timing (None: ``torch.get_num_threads()``).
        min_run_time: seconds of timed calls per module and shape and per floor (0.2: the
            default table takes ~12 s on an idle 2-core CPU; slow rows still get >= 1 run).
        dtype: element type of x.
    """
    mode = check_mode(mode)
    threads = check_threads(threads)
    min_run_time = check_min_run_time(min_run_time)
    names = tuple(names)
    unknown = [n for n in names if n not in MINIMAL_PASSES]
    if unknown:
        raise ValueError(f"names contains unknown module names {unknown}; known: {sorted(MINIMAL_PASSES)}")
    checked = [check_shape(s, "shapes") for s in shapes]
    if any(len(shape) != 4 for shape in checked):
        raise ValueError(f"shapes must hold (N, C, H, W) shapes; got {checked}")
    rows = []
    for shape in checked:
        floor = floor_latency(shape, dtype, threads=threads, min_run_time=min_run_time)
        for name in names:
            rows.append(_row(name, shape, floor, mode, threads, min_run_time, dtype))
    return CostTable(tuple(rows), mode, threads, min_run_time, dtype)


def _row(
    name: str,
    shape: Shape,
    floor: LatencyResult,
    mode: str,
    threads: int,
    min_run_time: float,
    dtype: torch.dtype,
) -> CostRow:
    """Measure one module at one shape; a ValueError from the module becomes the row's note."""
    passes, traffic = minimal_passes(name), memory_traffic(name, shape, dtype)
    module, options, note = _build(name, shape[1])
    if module is None:
        return CostRow(name, shape, None, None, passes, traffic, None, floor, options, note)
    params = count_parameters(module)
    try:
        latency = measure_latency(
            module, shape, mode, threads=threads, min_run_time=min_run_time, dtype=dtype
        )
        flops = count_flops(module, random_input(shape, dtype))
    except ValueError as error:  # e.g. training-mode BatchNorm on one value per channel
        return CostRow(name, shape, params, None, passes, traffic, None, floor, options, str(error))
    return CostRow(name, shape, params, flops, passes, traffic, latency, floor, options, note)
