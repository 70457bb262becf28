"""Exercise checks for the CBAM chapter (notebooks/03_cbam.ipynb).

``check_channel_gate``: CBAM's channel gate, eq. cbam-channel,
a_ch = sigma(MLP(GAP(x)) + MLP(GMP(x))) with ONE shared MLP.
``check_spatial_pool``: the input of CBAM's spatial gate, eq. cbam-spatial-pool,
s_sp = [max over channels, mean over channels], in that order (the official code's; the
paper's eq. 3, eq. cbam-spatial-paper, puts the mean first).
``check_std_spatial_gate``: a variant of the spatial gate with a third map, the standard
deviation over the channels, and any odd kernel size k_sp: 3 k_sp^2 + 2 parameters.

Each check runs the reader's function on random inputs, compares it with the package's
``ChannelGate`` / ``SpatialGate``, prints one line when it is right and raises
``AssertionError`` with one sentence naming the mistake when it is wrong.
"""

from __future__ import annotations

from .channel_gate import check_channel_gate
from .spatial_pool import check_spatial_pool
# the tests also use the reference helpers _std_gate and _std_maps
from .std_spatial_gate import _std_gate, _std_maps, check_std_spatial_gate  # noqa: F401

__all__: list[str] = ["check_channel_gate", "check_spatial_pool", "check_std_spatial_gate"]
