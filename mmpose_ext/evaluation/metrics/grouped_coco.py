"""``GroupedCocoMetric``: MMPose's CocoMetric, plus the same AP/AR for each group of images, in one pass."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from mmpose.evaluation.metrics import CocoMetric

from mmpose_ext.evaluation.metrics._json import as_json_value
from mmpose_ext.registry import METRICS
from mmpx.errors import MmpxError
from mmpx.evaluation.coco import grouped_coco_metrics
from mmpx.evaluation.groups import group_images

# data sample fields kept per image, so groups work when the GT is rebuilt from samples (no ann_file)
_SAMPLE_FIELDS = ("img_path", "scenario", "group", "category")


def images_for_grouping(coco, gts: Sequence[dict], fields: Iterable[str]) -> list[dict]:
    """The GT images, each completed with group fields (and ``file_name``) taken from its data samples."""
    meta: dict = {}
    for gt in gts:
        meta.setdefault(gt["img_meta"]["img_id"], gt["img_meta"]) if "img_meta" in gt else None
    images = []
    for img in coco.dataset["images"]:
        extra = meta.get(img["id"], {})
        img = dict(img)
        for field in fields:
            if field not in img and extra.get(field) is not None:
                img[field] = extra[field]
        if "file_name" not in img and extra.get("img_path"):
            img["file_name"] = extra["img_path"]
        images.append(img)
    return images


@METRICS.register_module()
class GroupedCocoMetric(CocoMetric):
    """COCO keypoint AP/AR overall (exactly MMPose's ``CocoMetric``) and per group of images.

    The predictions are evaluated once; each group's numbers equal a COCOeval run on that group's images alone
    (see :mod:`mmpx.evaluation.coco`). Keys: CocoMetric's (``AP``, ``AP .5``, ... ``AR (L)``) overall and
    ``<group value>/AP`` ... for each group (mmengine prefixes all with ``coco/``). With ``outfile_prefix`` the
    results file ``<prefix>.keypoints.json`` is kept, and ``mmpx eval ANN <prefix>.keypoints.json --by FIELD``
    reproduces these numbers.

    Args:
        group_by: image field(s) to group by (an image entry of the annotation file, e.g. ``'category'``), or
            for Human-Art ``'scenario'`` / ``'group'`` (derived from ``category`` or the image path, as
            :class:`~mmpose_ext.datasets.HumanArtScenesDataset` does). A list groups by each in turn.
        **kwargs: everything :class:`~mmpose.evaluation.metrics.CocoMetric` takes.
    """

    def __init__(self, group_by: str | Sequence[str] = "category", **kwargs) -> None:
        super().__init__(**kwargs)
        if self.iou_type != "keypoints":
            raise MmpxError(f"GroupedCocoMetric supports iou_type='keypoints', got {self.iou_type!r}",
                            "use MMPose's CocoMetric for other iou types")
        self.group_by = [group_by] if isinstance(group_by, str) else list(group_by)

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        for (_, gt), sample in zip(self.results[start:], data_samples, strict=True):
            fields = set(_SAMPLE_FIELDS) | set(self.group_by)
            gt["img_meta"] = {f: sample[f] for f in fields if f in sample} | {"img_id": sample["img_id"]}

    def compute_metrics(self, results: list) -> dict[str, float]:
        self._gts = [gt for _, gt in results]
        return super().compute_metrics(results)

    def results2json(self, keypoints: dict, outfile_prefix: str) -> str:
        # the values CocoMetric writes (a JSON round trip of Python floats is exact), kept to skip re-reading
        self._coco_results = [
            dict(image_id=as_json_value(inst["img_id"]), category_id=as_json_value(inst["category_id"]),
                 keypoints=np.asarray(inst["keypoints"]).reshape(-1).tolist(), score=float(inst["score"]))
            for instances in keypoints.values() for inst in instances
        ]
        return super().results2json(keypoints, outfile_prefix)

    def _do_python_keypoint_eval(self, outfile_prefix: str) -> list:
        results = self._coco_results
        images = images_for_grouping(self.coco, getattr(self, "_gts", []), self.group_by)
        groups = group_images(images, self.group_by)
        overall, per_group = grouped_coco_metrics(self.coco, results, self.dataset_meta["sigmas"], groups,
                                                  self.use_area)
        items = list(overall.items())
        for value, stats in per_group.items():
            items += [(f"{value}/{name}", stat) for name, stat in stats.items()]
        return items
