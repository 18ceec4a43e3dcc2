"""``__PREFIX__Dataset``: COCO-style keypoints whose names come from the annotation file, not from the class.

As in a DeepLabCut or SLEAP project, every dataset has keypoints of its own: the metainfo is built when the
dataset is created, from the keypoint category of its annotation file (names and skeleton; left/right swaps
inferred from the names by ``mmpx.metainfo``). A ``metainfo=`` in the config still wins, e.g. to set sigmas.
Training stores the metainfo in each checkpoint (``meta.dataset_meta``), which export and inference use.
"""

from __future__ import annotations

import os.path as osp

from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS
from mmpx.metainfo import metainfo_from_coco


@DATASETS.register_module()  # never force=True: pick a name MMPose does not use
class __PREFIX__Dataset(BaseCocoStyleDataset):
    """A COCO keypoint file (``mmpx convert`` writes them) with the keypoints it names.

    Args:
        ann_file: the COCO keypoint file, relative to ``data_root``; its keypoint category names the keypoints.
        metainfo: MMPose metainfo to use instead (``dict(from_file='metainfo.py')``); None: from ``ann_file``.
        data_root: the dataset's folder.
        **kwargs: the other arguments of MMPose's ``BaseCocoStyleDataset`` (``data_prefix``, ``pipeline``,
            ``data_mode``, ``test_mode``, ``indices``, ...).
    """

    METAINFO: dict = dict()  # none of its own: every dataset brings its keypoints in its files

    def __init__(self, ann_file: str = "", metainfo: dict | None = None, data_root: str | None = None,
                 **kwargs) -> None:
        if metainfo is None:
            metainfo = self.metainfo_of(ann_file, data_root)
        super().__init__(ann_file=ann_file, metainfo=metainfo, data_root=data_root, **kwargs)

    @staticmethod
    def metainfo_of(ann_file: str, data_root: str | None = None) -> dict:
        """The metainfo of the keypoint category in ``ann_file`` (an MMPose ``dataset_info`` dict)."""
        if not ann_file:
            raise ValueError("__PREFIX__Dataset reads its keypoint names from ann_file: set it")
        path = ann_file if osp.isabs(ann_file) or not data_root else osp.join(data_root, ann_file)
        return metainfo_from_coco(path, dataset_name="__NAME__")
