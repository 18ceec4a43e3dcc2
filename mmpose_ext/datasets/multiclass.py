"""``MultiClassCocoDataset``: several object classes with different skeletons (cars with 8 keypoints, bicycles
with 6) in one top-down dataset, for one model whose head predicts the union of the classes' keypoints.

The metainfo is mmpx's multi-class file (:mod:`mmpx.metainfo.classes`: MMPose's file plus a ``classes`` list, its
``keypoint_info`` the union, class after class). The COCO file is a standard multi-category one: each category's
``keypoints`` are the class's own names and each annotation holds that many. Each instance's keypoints are put
into its class's block of the union and every other keypoint gets ``v=0``, so MMPose's codecs give them weight 0
and the losses (``use_target_weight=True``) never supervise them; flipping uses the union's ``flip_indices``,
whose swaps stay within a class. ``category_id`` and the untouched ``raw_ann_info`` are kept for
:class:`~mmpose_ext.evaluation.metrics.MultiClassCocoMetric`, and ``metainfo['classes']`` lists the classes
(``id``, ``name``, ``keypoints``, ``start``, ``stop``) for metrics and visualisers.
"""

from __future__ import annotations

import os.path as osp

import numpy as np
from mmengine.fileio import load
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.structures.bbox import bbox_xywh2xyxy

from mmpose_ext.registry import DATASETS
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_classes, load_metainfo

_FORMAT_HINT = "see docs/guides/multiclass.md (mmpx convert labelme --classes writes both files)"


def classes_of(metainfo: dict | None, who: str = "MultiClassCocoDataset") -> list[dict]:
    """The classes of a multi-class ``metainfo=dict(from_file=...)``, as dicts (id, name, keypoints, start, stop).

    Raises:
        MmpxError: no ``from_file``, a missing file, or a one-class file.
    """
    path = (metainfo or {}).get("from_file") if isinstance(metainfo, dict) else None
    if not path:
        raise MmpxError(f"{who} needs metainfo=dict(from_file=<multi-class metainfo.py>), got {metainfo!r}",
                        "name the metainfo.py that lists the classes (mmpx configs new writes it into the config)")
    if not osp.isfile(path):
        raise MmpxError(f"{who}: metainfo file {path} does not exist", "fix metainfo=dict(from_file=...)")
    found = keypoint_classes(load_metainfo(path), str(path))
    if found is None:
        raise MmpxError(f"{who}: {path} has no 'classes' list: it is a one-class metainfo",
                        "use CocoDataset for one class, or a multi-class metainfo (" + _FORMAT_HINT + ")")
    return [dict(id=c.id, name=c.name, keypoints=list(c.keypoints), start=c.start, stop=c.stop) for c in found]


@DATASETS.register_module()
class MultiClassCocoDataset(BaseCocoStyleDataset):
    """Top-down COCO keypoints of several classes, each instance in its class's block of the union.

    Takes every argument of :class:`~mmpose.datasets.datasets.base.BaseCocoStyleDataset`; ``metainfo`` must be
    ``dict(from_file=...)`` naming a multi-class metainfo, and ``data_mode`` must be ``'topdown'``. A
    ``bbox_file`` (detections, at test time) keeps the detections whose ``category_id`` is a class.

    Examples:
        >>> dataset = dict(type='MultiClassCocoDataset', data_root='data/street/',
        ...                metainfo=dict(from_file='data/street/metainfo.py'),
        ...                ann_file='annotations/train.json', data_prefix=dict(img='images/'), pipeline=[])

    Raises:
        MmpxError: bottom-up mode, a one-class metainfo, or a COCO category that differs from its class (id,
            name, keypoints), or an annotation whose category is not a class or whose keypoint count is not its
            class's.
    """

    def __init__(self, *args, data_mode: str = "topdown", **kwargs) -> None:
        if data_mode != "topdown":
            raise MmpxError(f"MultiClassCocoDataset: data_mode={data_mode!r} is not supported",
                            "several classes are trained top-down (one sample per instance): data_mode='topdown'")
        self._checked_file = None
        super().__init__(*args, data_mode=data_mode, **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: dict | None = None) -> dict:
        classes = classes_of(metainfo)
        parsed = super()._load_metainfo(metainfo)  # MMPose's parser reads the union and drops 'classes'
        parsed["classes"] = classes
        return parsed

    @property
    def _classes(self) -> dict[int, dict]:
        return {c["id"]: c for c in self._metainfo["classes"]}

    def _check_categories(self) -> None:
        """Each COCO category that is a class has the class's name and keypoints; no other category exists."""
        if self._checked_file == self.ann_file:
            return
        classes = self._classes
        for cat in self.coco.dataset.get("categories") or []:
            cls = classes.get(cat.get("id"))
            if cls is None:
                known = ", ".join(f"{c['name']} (id {i})" for i, c in classes.items())
                raise MmpxError(f"{self.ann_file}: category {cat.get('name')!r} (id {cat.get('id')}) is not a class "
                                f"of the metainfo ({known})",
                                "add the class to the metainfo, or drop the category and its annotations")
            if cat.get("name") != cls["name"] or list(cat.get("keypoints") or []) != cls["keypoints"]:
                raise MmpxError(f"{self.ann_file}: category id {cls['id']} is {cat.get('name')!r} with keypoints "
                                f"{cat.get('keypoints')}, the metainfo's class {cls['id']} is {cls['name']!r} with "
                                f"{cls['keypoints']}",
                                "category ids, names and keypoint lists must equal the metainfo's classes; "
                                + _FORMAT_HINT)
        self._checked_file = self.ann_file

    def parse_data_info(self, raw_data_info: dict) -> dict | None:
        self._check_categories()
        ann = raw_data_info["raw_ann_info"]
        cls = self._classes.get(ann.get("category_id"))
        if cls is None:
            raise MmpxError(f"{self.ann_file}: annotation {ann.get('id')} has category_id {ann.get('category_id')!r},"
                            f" not a class of the metainfo ({', '.join(str(i) for i in self._classes)})",
                            "give each annotation the category_id of its class")
        own = len(cls["keypoints"])
        if "keypoints" in ann and len(ann["keypoints"]) != 3 * own:
            raise MmpxError(f"{self.ann_file}: annotation {ann.get('id')} ({cls['name']}) has "
                            f"{len(ann['keypoints']) // 3} keypoints, its class {own}",
                            f"mmpx check data {self.ann_file} --metainfo METAINFO lists every such annotation")
        info = super().parse_data_info(raw_data_info)
        if info is None:
            return None
        info["keypoints"], info["keypoints_visible"] = self._to_union(cls, info["keypoints"],
                                                                      info["keypoints_visible"])
        info["category_id"] = int(cls["id"])
        return info

    def _to_union(self, cls: dict, keypoints: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(1, K_class, 2)`` and ``(1, K_class)`` into the union: the class's block, zeros (v=0) elsewhere."""
        k = self._metainfo["num_keypoints"]
        union = np.zeros((1, k, 2), dtype=np.float32)
        seen = np.zeros((1, k), dtype=np.float32)
        union[:, cls["start"]:cls["stop"]] = keypoints
        seen[:, cls["start"]:cls["stop"]] = visible
        return union, seen

    def _load_detection_results(self) -> list[dict]:
        """Detected boxes of the classes (MMPose's own keeps category 1 only), dummy keypoints in the class's block."""
        from xtcocotools.coco import COCO

        detections = load(self.bbox_file)
        if not isinstance(detections, list):
            raise MmpxError(f"bbox_file {self.bbox_file}: expected a list of detections, got "
                            f"{type(detections).__name__}", "a COCO detection results file")
        self.coco = COCO(self.ann_file)
        self._metainfo["CLASSES"] = self.coco.loadCats(self.coco.getCatIds())
        self._check_categories()
        classes, data_list = self._classes, []
        for det in detections:
            cls = classes.get(det.get("category_id"))
            if cls is None:
                continue
            img = self.coco.loadImgs(det["image_id"])[0]
            keypoints, visible = self._to_union(cls, np.zeros((1, len(cls["keypoints"]), 2), np.float32),
                                                np.ones((1, len(cls["keypoints"])), np.float32))
            data_list.append({
                "img_id": det["image_id"],
                "img_path": osp.join(self.data_prefix["img"], img["file_name"]),
                "img_shape": (img["height"], img["width"]),
                "bbox": bbox_xywh2xyxy(np.array(det["bbox"][:4], dtype=np.float32).reshape(1, 4)),
                "bbox_score": np.array(det["score"], dtype=np.float32).reshape(1),
                "keypoints": keypoints,
                "keypoints_visible": visible,
                "category_id": int(cls["id"]),
                "id": len(data_list),
            })
        return data_list
