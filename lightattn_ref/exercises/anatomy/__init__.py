"""Exercise checks for the anatomy chapter (notebooks/01_anatomy.ipynb).

Every module in the book squeezes x (pools it over some axes), excites (a small function of the
pooled values, squashed to a gate) and scales (multiplies x by the gate, broadcasting it back over
the pooled axes). The checks here test the scale step, the reader's map of the squeeze axes, and
the reader's prediction of what SE adds to a ResNet bottleneck block.
"""

from __future__ import annotations

from .bottleneck import check_bottleneck_params
from .pool_axes import POOLED_AXES, check_pool_axes
from .scale import check_scale

__all__: list[str] = ["POOLED_AXES", "check_bottleneck_params", "check_pool_axes", "check_scale"]
