"""Exercise checks for the Shuffle Attention chapter (notebooks/04_shuffle_attention.ipynb).

``check_channel_shuffle``: ShuffleNet's channel shuffle, eq. sa-shuffle: view C as
(groups, C / groups), swap the two axes, flatten; output channel i * groups + ℓ is input
channel ℓ * (C / groups) + i.
``check_sa_spatial_gate``: the gate of SA's spatial half, eq. sa-spatial,
sigma(w * GN(x) + b), where GN standardises each channel of each sample over its own H x W.
``check_shuffle_period``: how many shuffles with G groups bring every one of C channels back to
its place, checked against repeated ``channel_shuffle`` (the period T: the smallest T >= 1
with G^T = 1 modulo C - 1).

Each check runs the reader's function on random inputs, compares it with the package
(``channel_shuffle``, ``ShuffleAttention.attention_maps``), prints one line when it is right and
raises ``AssertionError`` with one sentence naming the mistake when it is wrong.
"""

from __future__ import annotations

from .channels import check_channel_shuffle
from .period import check_shuffle_period
from .period import _period_by_shuffling, _period_cases  # noqa: F401 - the tests import them from here
from .spatial_gate import check_sa_spatial_gate

__all__: list[str] = ["check_channel_shuffle", "check_sa_spatial_gate", "check_shuffle_period"]
