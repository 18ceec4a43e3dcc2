"""Model predictions as labelme files: pre-labels a person corrects in labelme, read back by ``convert labelme``.

Per instance a rectangle (its box) and one point per keypoint, sharing a ``group_id``; the point's label is the
keypoint's name, so ``mmpx convert labelme --metainfo`` reads the file back to the same keypoints (coordinates
are rounded to 0.01 px, as the converter writes them). Keypoints scoring under the threshold get the shape flag
``check`` and the file the flag ``needs_check``: labelme lists flags beside each shape, so a person looks at those
first. Keypoints predicted outside the image are left out (labelme cannot show them; the converter would refuse
them); the rectangle's description says how many.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LABELME_VERSION = "5.4.1"  # labelme warns only when the major version differs from its own
CHECK_FLAG = "check"  # on a point: its score is under the threshold
FILE_FLAG = "needs_check"  # on the file: some point has CHECK_FLAG


def prelabel(image_path: str, width: int, height: int, keypoints: np.ndarray, scores: np.ndarray,
             bboxes: np.ndarray, names: Sequence[str], label: str = "object", kpt_thr: float = 0.3,
             source: str = "mmpx") -> dict:
    """The labelme document for one image.

    Args:
        image_path: ``imagePath``, relative to where the JSON file is written.
        width, height: the image size in pixels.
        keypoints: ``(N, K, 2)`` pixel coordinates; scores ``(N, K)``; bboxes ``(N, 4)`` as x1, y1, x2, y2.
        names: the K keypoint names, in the model's order.
        label: every rectangle's label (the converter's ``--category`` decides the COCO category).
        kpt_thr: points scoring under this are flagged ``check``.
        source: written into each rectangle's description (which model made the pre-label).
    """
    keypoints = np.asarray(keypoints, np.float64).reshape(len(bboxes), len(names), 2)
    scores = np.asarray(scores, np.float64).reshape(len(bboxes), len(names))
    shapes, to_check = [], 0
    for group, (box, kpts, kscores) in enumerate(zip(bboxes, keypoints, scores, strict=True), start=1):
        x1, y1, x2, y2 = (float(v) for v in box)
        x1, x2 = sorted((_clip(x1, width), _clip(x2, width)))
        y1, y2 = sorted((_clip(y1, height), _clip(y2, height)))
        if x2 - x1 < 0.01 or y2 - y1 < 0.01:  # a box wholly outside the image: no instance to correct
            continue
        rect = dict(label=label, points=[[round(x1, 2), round(y1, 2)], [round(x2, 2), round(y2, 2)]],
                    group_id=group, description="", shape_type="rectangle", flags={})
        shapes.append(rect)
        outside = 0
        for name, (x, y), score in zip(names, kpts, kscores, strict=True):
            if not (math.isfinite(x) and math.isfinite(y)) or not (0 <= x <= width and 0 <= y <= height):
                outside += 1
                continue
            score = float(score) if math.isfinite(score) else 0.0
            low = score < kpt_thr
            to_check += low
            shapes.append(dict(label=str(name), points=[[round(float(x), 2), round(float(y), 2)]],
                               group_id=group, description=f"score {score:.2f}", shape_type="point",
                               flags={CHECK_FLAG: bool(low)}))
        note = f"pre-label by {source}"
        if outside:
            note += f"; {outside} keypoint(s) predicted outside the image left out"
        rect["description"] = note
    return dict(version=LABELME_VERSION, flags={FILE_FLAG: to_check > 0}, shapes=shapes, imagePath=image_path,
                imageData=None, imageHeight=int(height), imageWidth=int(width))


def _clip(value: float, limit: int) -> float:
    return min(max(value, 0.0), float(limit)) if math.isfinite(value) else 0.0
