"""Exercise checks for the chapter on what the modules learn (notebooks/08_what_they_learn.ipynb).

- ``check_gate_summary``: the mean channel gate of a module over every image a loader yields,
  one number per channel (eq. learn-mean-gate).
- ``check_seed_stats``: the mean and the sample standard deviation of one number over several
  seeds (eq. learn-seed-stats).
- ``check_paired_difference``: two models compared seed by seed: the mean and the sample
  standard deviation of the per-seed differences, and their ratio t_stat to the standard error.
"""

from __future__ import annotations

from .gate_summary import check_gate_summary, reference_gate_summary
from .paired import check_paired_difference, reference_paired_difference
from .seed_stats import check_seed_stats

__all__: list[str] = [
    "check_gate_summary",
    "check_paired_difference",
    "check_seed_stats",
    "reference_gate_summary",
    "reference_paired_difference",
]
