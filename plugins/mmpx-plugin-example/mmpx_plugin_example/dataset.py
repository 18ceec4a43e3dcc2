"""``ExampleShapesDataset``: the synthetic kites of :mod:`mmpx_plugin_example.shapes`, drawn in memory."""

from __future__ import annotations

import copy
import os.path as osp

import numpy as np
from mmengine.logging import MessageHub
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from mmpx_plugin_example.shapes import CATEGORY, METAINFO, coco_annotation, draw_sample, file_name


@DATASETS.register_module()
class ExampleShapesDataset(BaseCocoStyleDataset):
    """A COCO-style keypoint dataset of synthetic kites, generated in memory; no files are read.

    Every sample holds its image under ``img`` (MMPose's ``LoadImage`` then reads no file) and a COCO
    annotation under ``raw_ann_info``, so ``CocoMetric`` evaluates it without an ``ann_file``. The samples
    match, index for index, the files that ``mmpx convert example-shapes OUT --n N --seed S`` writes.

    Args:
        num_samples: number of images (one kite each).
        img_size: width and height of the square images.
        seed: seed of the set; use different seeds for training and validation.
        **kwargs: the arguments of :class:`BaseCocoStyleDataset` (``pipeline``, ``test_mode``, ``data_mode``,
            ...), except ``ann_file`` and ``bbox_file``.

    Examples:
        >>> from mmpose.registry import DATASETS
        >>> ds = DATASETS.build(dict(type='ExampleShapesDataset', num_samples=4, seed=1))
        >>> ds[0]['img'].shape
        (96, 96, 3)
    """

    METAINFO: dict = METAINFO

    def __init__(self, num_samples: int = 200, img_size: int = 96, seed: int = 0, **kwargs) -> None:
        for key in ("ann_file", "bbox_file"):
            if kwargs.get(key):
                raise ValueError(f"{type(self).__name__} draws its samples and takes no {key}")
        if num_samples < 1:
            raise ValueError(f"num_samples must be at least 1, got {num_samples}")
        self.num_samples, self.img_size, self.seed = num_samples, img_size, seed
        super().__init__(**kwargs)
        if self.test_mode:
            # The base class announces its ann_file ('' here) to CocoMetric, which would then try to open it;
            # None makes the metric build its ground truth from raw_ann_info instead.
            MessageHub.get_current_instance().update_info(f"{self.metainfo['dataset_name']}_ann_file", None)

    def load_data_list(self) -> list[dict]:
        """Draw every sample and organise them as the ``data_mode`` asks."""
        self._metainfo["CLASSES"] = [copy.deepcopy(CATEGORY)]
        instances, images, pixels = [], [], {}
        for index in range(self.num_samples):
            sample = draw_sample(self.seed, index, self.img_size)
            img_id = index + 1
            image = dict(id=img_id, img_id=img_id, file_name=file_name(index), width=self.img_size,
                         height=self.img_size, img_path=osp.join(self.data_prefix["img"], file_name(index)))
            images.append(image)
            pixels[img_id] = sample.img
            info = self.parse_data_info(dict(raw_ann_info=coco_annotation(sample, index), raw_img_info=image))
            instances.append(info)
        if self.data_mode == "topdown":
            data_list = self._get_topdown_data_infos(instances)
        else:
            data_list = self._get_bottomup_data_infos(instances, images)
        for info in data_list:
            info["img"] = pixels[int(np.asarray(info["img_id"]))]
        return data_list
