"""``__PREFIX__Grayscale``: a data transform for MMPose pipelines (registered in MMPose's ``TRANSFORMS``).

A transform gets the sample as a dict (``img``, ``keypoints``, ``bbox``, ...) and returns it; this one changes the
image only. Put it in a config's ``train_pipeline`` by its name, after ``LoadImage``.
"""

from __future__ import annotations

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()  # never force=True: pick a name MMPose does not use
class __PREFIX__Grayscale(BaseTransform):
    """With probability ``prob``, replace the image by its grey version (still 3 channels), so that the model
    does not lean on colour. Keypoints and boxes are unchanged.

    Args:
        prob: the chance of turning an image grey, from 0 to 1.
    """

    def __init__(self, prob: float = 0.2) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f"prob must be between 0 and 1, got {prob}")
        self.prob = prob

    def transform(self, results: dict) -> dict:
        # np.random: mmengine seeds it per worker (mmpx train --seed makes runs repeatable)
        if self.prob and np.random.rand() < self.prob:
            grey = cv2.cvtColor(results["img"], cv2.COLOR_BGR2GRAY)  # LoadImage gives BGR
            results["img"] = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
        return results

    def __repr__(self) -> str:
        return f"{type(self).__name__}(prob={self.prob})"
