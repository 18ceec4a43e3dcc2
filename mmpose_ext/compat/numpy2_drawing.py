"""MMPose's OpenCV drawing crashes on NumPy 2 as soon as a keypoint is drawn.

``PoseLocalVisualizer`` passes ``radius=np.array([r])`` to ``OpencvBackendVisualizer.draw_circles``, which calls
``int(radius)``: NumPy 2 refuses ``int()`` of a 1-d array (``TypeError: only 0-dimensional arrays can be
converted to Python scalars``). It hid while no keypoint cleared the score threshold, and broke
``mmpx test --show-dir``, ``tools/test.py --show-dir`` and ``add_datasample`` from Python. The method is wrapped
to hand on one-element arrays as plain numbers; everything else is MMPose's own code.
"""

from __future__ import annotations

import functools

from mmpose_ext.compat._fix import Fix


def _scalar(value):
    import numpy as np

    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(()).item()
    return value


def _needed() -> bool:
    import numpy as np

    return int(np.__version__.split(".")[0]) >= 2


def _patch() -> str:
    from mmpose.visualization.opencv_backend_visualizer import OpencvBackendVisualizer

    original = OpencvBackendVisualizer.draw_circles
    if getattr(original, "__mmpx_numpy2__", False):
        return "already wrapped"

    @functools.wraps(original)
    def draw_circles(self, center, radius, *args, **kwargs):
        return original(self, center, _scalar(radius), *args, **kwargs)

    draw_circles.__mmpx_numpy2__ = True
    OpencvBackendVisualizer.draw_circles = draw_circles
    return "OpencvBackendVisualizer.draw_circles takes one-element radius arrays"


FIX = Fix(
    name="numpy2_drawing",
    summary="MMPose's OpenCV keypoint drawing works on NumPy 2 (int() of a 1-d radius array)",
    needed=_needed,
    patch=_patch,
)
