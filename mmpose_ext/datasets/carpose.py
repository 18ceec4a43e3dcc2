"""``CarPoseDataset``: COCO-style car keypoints (4 bumper corners, 4 tire centres)."""

from __future__ import annotations

from pathlib import Path

from mmpose.datasets.datasets.base import BaseCocoStyleDataset

from mmpose_ext.registry import DATASETS

CARPOSE_METAINFO = str(Path(__file__).resolve().parent / "metainfo" / "carpose.py")


@DATASETS.register_module()
class CarPoseDataset(BaseCocoStyleDataset):
    """Car keypoints in COCO keypoint format, 8 per car::

        0: left_front_bumper   1: right_front_bumper   2: left_rear_bumper   3: right_rear_bumper
        4: left_front_tire     5: right_front_tire     6: left_rear_tire     7: right_rear_tire

    Left and right are the car's own sides, so a horizontal flip swaps them. Metainfo (skeleton, sigmas, joint
    weights) is ``mmpose_ext/datasets/metainfo/carpose.py``; pass ``metainfo=dict(from_file=...)`` to use
    another. Takes every argument of :class:`~mmpose.datasets.datasets.base.BaseCocoStyleDataset`.

    Examples:
        >>> dataset = dict(type='CarPoseDataset', data_root='data/carpose/',
        ...                ann_file='annotations/train.json', data_prefix=dict(img='images/'), pipeline=[])
    """

    METAINFO: dict = dict(from_file=CARPOSE_METAINFO)
