"""Benchmark: our modules against a literal transcription of the official code and the floor.

Run ``python -m lightattn_ref.bench`` (``--help`` for options). For every module and shape it
builds the official transcription (``lightattn_ref.official``) with random weights, loads the
same weights into our module with ``from_official``, asserts that both give the same output
(to 1e-5; in train mode also the same gradient of x), and then times, in one run and with an
explicit thread count:

- eval: a forward pass under ``torch.inference_mode``;
- train: a forward + backward pass;
- the floor: one read + one write of x (``cost.floor_latency``), measured again right before
  each module, so that a change in the machine's speed during the run cancels in the ratios.
  An eval row is compared with one copy of x; a train row with the train floor,
  ``train_passes / 2`` copies (``specs.AttentionSpec.train_passes``: the minimal passes of a
  forward + backward, which also reads grad_y and writes grad_x);
- compiled: official and ours again under ``torch.compile`` (Inductor, ``fullgraph=True``,
  static shapes; ``cost.measure_latency(compiled=True)``). The compile time, the first call's
  seconds in the first round after ``torch.compiler.reset()``, is reported apart and excluded
  from the times. ``--no-compile`` skips these columns for a quick run.

They are timed in ``rounds`` interleaved rounds (floor, official, ours, official compiled, ours
compiled, floor, ...), so that a slow spell of a shared machine hits all of them alike rather
than one of them; each result pools the timed blocks of all rounds. It prints a markdown table of
medians with their spreads (IQR), the ratios ours / floor and ours compiled / floor, and compiled
ours against the faster of ours eager and the official code compiled; then the compile times;
then the targets, giving for each its range over the rounds: eval time in floors, eager ours
against the official code, compiled ours against both others, and compiled training time in
train floors (``TRAIN_FLOOR_TARGET``). ``--readme`` also writes all of it into README.md between
the ``bench:start`` / ``bench:end`` markers, so the numbers there are regenerated, not typed;
``--save PATH`` writes the caption and the rows as JSON, for the book to read.
Timings depend on the machine and on what else runs on it: compare ratios within one run.

The command line times inside ``cost.allocator_settings(retain_freed=True, huge_pages=True)``:
glibc keeps freed memory (as jemalloc or tcmalloc would), so that no module pays page faults on
every call, and PyTorch asks for transparent huge pages, so that the fresh outputs that remain
cost few faults and times do not depend on what ran before. It enters that block before its
first tensor, since PyTorch reads the huge-page setting once per process, and both settings are
undone when the run ends; pass ``--system-malloc`` to time with the allocator's defaults
instead. Every timing starts from a trimmed heap (``cost.trim_heap``), whatever ran before it.

Files: ``pairs.py`` (the pairs and what the benchmark knows per name), ``runner.py`` (rounds,
rows, processes), ``report.py`` (table, targets, caption, README block), ``results.py`` (saved
runs, and the one the book reads), ``cli.py`` (the command line; ``__main__.py`` runs it).
"""

from ..registry import ATTENTION_NAMES
from .cli import main
from .pairs import (
    FLOOR_TARGETS,
    TRAIN_FLOOR_TARGET,
    TRAIN_FLOOR_TARGET_NAMES,
    assert_same_outputs,
    build_pair,
    official_options,
    randomize_,
)
from .report import compile_times, describe, target_report, to_markdown, write_readme
from .results import RESULTS, SavedRun, load_results, save_results
from .runner import (
    ROUNDS,
    BenchRow,
    merge_processes,
    merge_rounds,
    merge_rows,
    rows_from_json,
    rows_to_json,
    run,
    run_in_processes,
)

__all__ = [
    "ATTENTION_NAMES",
    "FLOOR_TARGETS",
    "RESULTS",
    "ROUNDS",
    "TRAIN_FLOOR_TARGET",
    "TRAIN_FLOOR_TARGET_NAMES",
    "BenchRow",
    "SavedRun",
    "assert_same_outputs",
    "build_pair",
    "compile_times",
    "describe",
    "load_results",
    "main",
    "merge_processes",
    "merge_rounds",
    "merge_rows",
    "official_options",
    "randomize_",
    "rows_from_json",
    "rows_to_json",
    "run",
    "run_in_processes",
    "save_results",
    "target_report",
    "to_markdown",
    "write_readme",
]
