"""An honest cost toolkit: parameters, counted FLOPs, memory traffic, latency and peak memory.

Attention modules for CNNs are cheap in parameters and arithmetic and expensive in memory
traffic: they read the whole feature map x in R^{N x C x H x W} to pool it and read and write it
again to gate it. The book therefore puts five numbers side by side (chapter 07), each computed
in one file of this package:

* ``counts.py``: ``count_parameters``, trainable parameters (an exact integer), and
  ``count_flops``, FLOPs counted by ``torch.utils.flop_counter`` (matmul and convolution only;
  1 multiply-accumulate = 2 FLOPs). Pooling, norms, softmax and gating are invisible to it.
* ``traffic.py``: ``memory_traffic``, the bytes a module must move at minimum, from its
  structure (``MINIMAL_PASSES`` full passes over x, ``minimal_passes``).
* ``timing.py``: ``measure_latency`` and ``floor_latency``, the measured time of the module and
  of one read plus one write of x (a copy, the memory-bound floor), with
  ``torch.utils.benchmark`` and an explicit thread count; ``LatencyResult`` holds one.
* ``memory.py``: ``peak_memory``, peak bytes allocated during one training forward + backward.
* ``table.py``: ``cost_table`` puts them in one ``CostTable`` of ``CostRow`` (``COLUMNS``,
  ``DEFAULT_SHAPES``).
* ``units.py``: papers print costs with binary prefixes and MACs as often as with decimal
  prefixes and FLOPs; ``convert_units`` and ``format_published`` convert a published figure so
  "published" and "measured" can stand side by side.
* ``allocator.py``: ``allocator_settings``, a context manager that keeps freed memory and asks
  for huge pages during a measurement and undoes both on exit, and ``trim_heap``.

No function here leaves process-wide state changed after it returns, except ``trim_heap``, an
explicit action on the heap, and the two limits of ``allocator_settings``'s undo that its
docstring states. Units, everywhere: counts are plain integers; FLOPs are floating-point
operations (a multiply-accumulate, MAC, is 2 FLOPs); bytes are bytes; "MB" is 10^6 bytes and
"MiB" is 2^20 bytes; times are seconds unless a name says ``_ms``.
"""

from .allocator import AllocatorSettings, allocator_settings, trim_heap
from .counts import count_flops, count_parameters
from .memory import peak_memory
from .table import COLUMNS, DEFAULT_SHAPES, CostRow, CostTable, cost_table
from .timing import LatencyResult, floor_latency, measure_latency
from .traffic import MINIMAL_PASSES, MINIMAL_TRAIN_PASSES, memory_traffic, minimal_passes
from .units import convert_units, format_published

__all__ = [
    "COLUMNS",
    "DEFAULT_SHAPES",
    "MINIMAL_PASSES",
    "MINIMAL_TRAIN_PASSES",
    "AllocatorSettings",
    "CostRow",
    "CostTable",
    "LatencyResult",
    "allocator_settings",
    "convert_units",
    "cost_table",
    "count_flops",
    "count_parameters",
    "floor_latency",
    "format_published",
    "measure_latency",
    "memory_traffic",
    "minimal_passes",
    "peak_memory",
    "trim_heap",
]
