"""Exercise checks for the chapter on seeing attention (notebooks/09_seeing_attention.ipynb).

- ``check_gradcam_weights``: Grad-CAM's map from a layer's activations and gradients,
  ReLU(sum_kappa alpha_kappa A_kappa) with alpha_kappa the spatial mean of the gradient
  (eqs. seeing-alpha and seeing-cam).
- ``check_peak_location``: where a map is largest, as (row, column) per image.
- ``check_box_energy``: the share of each map's mass that lies on the object, averaged over
  the images that have one (a measure of all the map, where eq. seeing-hit looks at its peak).
"""

from __future__ import annotations

from .cam import check_gradcam_weights, reference_cam
from .energy import check_box_energy, reference_box_energy
from .peak import check_peak_location, reference_peak

__all__: list[str] = [
    "check_box_energy",
    "check_gradcam_weights",
    "check_peak_location",
    "reference_box_energy",
    "reference_cam",
    "reference_peak",
]
