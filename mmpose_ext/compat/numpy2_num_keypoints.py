"""MMPose's COCO-style datasets hand out ``num_keypoints`` as ``np.int64`` on today's NumPy.

Where an annotation has no ``num_keypoints`` field, MMPose counts the labelled points with
``np.count_nonzero(keypoints.max(axis=2))``. NumPy 1 returned a Python ``int`` for that (``axis=None``); NumPy 2
as installed here (2.4) returns ``np.intp``, so ``num_keypoints`` is an ``np.int64`` (bottom-up: a list of them) in
PanopticHand2D, JHMDB, FreiHand, OneHand10K, RHD2D, COCO-WholeBody-Hand and -Face: MMPose's own type checks fail
(``np.int64(21) is not an instance of <class 'int'>``), as does anything that writes the data infos as JSON.
``BaseCocoStyleDataset.load_data_list`` (where every one of these builds its data list) is wrapped to turn NumPy
integers in ``num_keypoints`` back into ``int``; everything else is MMPose's own code.
"""

from __future__ import annotations

import functools

from mmpose_ext.compat._fix import Fix


def _as_int(value):
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, list):
        return [int(v) if isinstance(v, np.integer) else v for v in value]
    return value


def _needed() -> bool:
    import numpy as np

    return not isinstance(np.count_nonzero(np.ones(2)), int)  # what MMPose counts keypoints with


def _patch() -> str:
    from mmpose.datasets.datasets.base import BaseCocoStyleDataset

    original = BaseCocoStyleDataset.load_data_list
    if getattr(original, "__mmpx_numpy2__", False):
        return "already wrapped"

    @functools.wraps(original)
    def load_data_list(self):
        data_list = original(self)
        for info in data_list:
            if "num_keypoints" in info:
                info["num_keypoints"] = _as_int(info["num_keypoints"])
        return data_list

    load_data_list.__mmpx_numpy2__ = True
    BaseCocoStyleDataset.load_data_list = load_data_list
    return "BaseCocoStyleDataset.load_data_list gives num_keypoints as int"


FIX = Fix(
    name="numpy2_num_keypoints",
    summary="MMPose's COCO-style datasets give num_keypoints as int on NumPy 2 (count_nonzero returns np.intp)",
    needed=_needed,
    patch=_patch,
)
