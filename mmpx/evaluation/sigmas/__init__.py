"""OKS sigmas estimated from images labelled twice, and written into an MMPose metainfo file.

COCO defines the sigma of keypoint i by sigma_i^2 = E[d_i^2 / s^2]: d_i is one annotation's distance from the
truth (pixels), s^2 the object's area. The truth is unknown, but two independent labellings A and B of the
same images are: their mutual distance has twice the variance of either, E[d_AB^2 / s^2] = 2 sigma_i^2, so
sigma_i = sqrt(mean(d_AB^2 / s^2) / 2).

Pure Python + numpy (no torch): ``mmpx metainfo sigmas`` starts fast.
"""

from __future__ import annotations

from mmpx.evaluation.sigmas.estimate import (
    KeypointSigma,
    SigmaEstimate,
    ap_under_sigmas,
    default_sigmas,
    estimate_sigmas,
)
from mmpx.evaluation.sigmas.labels import check_names, read_labels
from mmpx.metainfo.sigmas import sigmas_text, write_sigmas

__all__ = [
    "KeypointSigma", "SigmaEstimate", "ap_under_sigmas", "check_names", "default_sigmas", "estimate_sigmas",
    "read_labels", "sigmas_text", "write_sigmas",
]
