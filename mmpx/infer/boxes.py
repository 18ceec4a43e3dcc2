"""Box sources that need no model: the whole image (for crops of one object)."""

from __future__ import annotations

import numpy as np


class WholeImage:
    """One box, the whole image, score 1."""

    name = "whole image"

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, w = image_bgr.shape[:2]
        return np.array([[0, 0, w, h]], np.float32), np.ones(1, np.float32)
