"""Metrics for several object classes with different skeletons (:class:`~mmpose_ext.datasets.MultiClassCocoDataset`):
COCO AP/AR and PCK for each class on its own keypoints, and their means.

The model predicts the union of the classes' keypoints; an instance's class is its data sample's ``category_id``
(top-down: the ground-truth instance's). Its prediction is cut to its class's block, so other classes' keypoints
never count. ``MultiClassCocoMetric`` scores each class with xtcocotools' COCOeval on that category alone
(``catIds=[id]``) and the class's own sigmas (its slice of the union's): the same figures as COCOeval run on a copy
of the files holding that category only. The results file holds standard multi-category COCO results, each with
its class's own keypoints.
"""

from __future__ import annotations

import contextlib
import io
import os.path as osp
import tempfile
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from mmengine.fileio import dump
from mmengine.logging import MMLogger
from mmpose.evaluation.functional import keypoint_pck_accuracy, oks_nms, soft_oks_nms
from mmpose.evaluation.metrics import CocoMetric, PCKAccuracy
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

from mmpose_ext.evaluation.metrics._json import as_json_value
from mmpose_ext.registry import METRICS
from mmpx.errors import MmpxError

STATS = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")


def _classes(meta: dict | None, who: str) -> list[dict]:
    classes = (meta or {}).get("classes")
    if not classes:
        raise MmpxError(f"{who} needs the dataset's classes (metainfo['classes']), and this dataset has none",
                        "use it with MultiClassCocoDataset and a multi-class metainfo (docs/guides/multiclass.md)")
    return classes


def _class_of(classes: list[dict], category_id, who: str) -> dict:
    for cls in classes:
        if cls["id"] == category_id:
            return cls
    raise MmpxError(f"{who}: a prediction has category_id {category_id!r}, not one of the classes "
                    f"{[c['id'] for c in classes]}", "the data samples' category_id must be a class id")


@METRICS.register_module()
class MultiClassCocoMetric(CocoMetric):
    """COCO keypoint AP/AR per class, each with its own keypoints and sigmas, and the mean over the classes.

    Keys (mmengine prefixes them with ``coco/``): ``<class>/AP``, ``<class>/AP .5`` ... ``<class>/AR (L)`` for
    each class, and ``AP`` ... ``AR (L)``: the mean over the classes that have ground truth in the file. With
    ``outfile_prefix`` the results are kept in ``<prefix>.keypoints.json`` (each result with its ``category_id`` and
    its class's keypoints). Top-down only; NMS (``nms_mode``) runs per class with the class's sigmas.

    Args:
        **kwargs: everything :class:`~mmpose.evaluation.metrics.CocoMetric` takes except ``pred_converter`` and
            ``gt_converter`` (a class's keypoints are its block of the union).
    """

    def __init__(self, **kwargs) -> None:
        for key in ("pred_converter", "gt_converter"):
            if kwargs.get(key) is not None:
                raise MmpxError(f"MultiClassCocoMetric does not take {key}",
                                "each class is scored on its own block of the union; drop the converter")
        super().__init__(**kwargs)
        if self.iou_type != "keypoints":
            raise MmpxError(f"MultiClassCocoMetric supports iou_type='keypoints', got {self.iou_type!r}",
                            "use iou_type='keypoints'")

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        for pred, _ in self.results[start:]:  # a 0-d array would be an unhashable id
            pred["category_id"] = as_json_value(pred["category_id"])
            pred["img_id"] = as_json_value(pred["img_id"])

    def compute_metrics(self, results: list) -> dict[str, float]:
        logger = MMLogger.get_current_instance()
        classes = _classes(self.dataset_meta, type(self).__name__)
        preds, gts = zip(*results, strict=True)
        with contextlib.ExitStack() as stack:
            prefix = self.outfile_prefix
            if prefix is None:
                prefix = osp.join(stack.enter_context(tempfile.TemporaryDirectory()), "results")
            if self.coco is None:
                logger.info("Converting ground truth to coco format...")
                with contextlib.redirect_stdout(io.StringIO()):
                    self.coco = COCO(self.gt_to_coco_json(gt_dicts=gts, outfile_prefix=prefix))
            res_file = self.write_results(self.class_results(preds, classes), prefix)
            if self.format_only:
                logger.info(f"results are saved in {osp.dirname(prefix)}")
                return {}
            logger.info(f"Evaluating {type(self).__name__} per class...")
            return self.evaluate_classes(res_file, classes)

    def class_results(self, preds: Sequence[dict], classes: list[dict]) -> list[dict]:
        """COCO results: each prediction cut to its class's block, scored as ``score_mode`` says on those
        keypoints, one per instance id, and NMS per image and class with the class's sigmas."""
        sigmas = np.asarray(self.dataset_meta["sigmas"], dtype=float)
        grouped = defaultdict(dict)  # (image, class id) -> instance id -> instance
        for pred in preds:
            cls = _class_of(classes, pred["category_id"], type(self).__name__)
            block = slice(cls["start"], cls["stop"])
            for i, keypoints in enumerate(pred["keypoints"]):
                keypoints, scores = keypoints[block], pred["keypoint_scores"][i][block]
                inst = dict(id=pred["id"], img_id=pred["img_id"], category_id=cls["id"], keypoint_scores=scores,
                            keypoints=np.concatenate([keypoints, scores[:, None]], axis=-1),
                            score=self._score(pred["bbox_scores"][i], scores))
                if "areas" in pred:
                    inst["area"] = pred["areas"][i]
                else:  # as CocoMetric: the keypoints' box
                    inst["area"] = np.ptp(keypoints[:, 0]) * np.ptp(keypoints[:, 1])
                grouped[(pred["img_id"], cls["id"])].setdefault(as_json_value(pred["id"]), inst)
        out = []
        for (_, class_id), by_id in sorted(grouped.items(), key=lambda kv: kv[0]):
            instances = [by_id[k] for k in sorted(by_id)]
            if self.nms_mode != "none":
                cls = _class_of(classes, class_id, type(self).__name__)
                nms = oks_nms if self.nms_mode == "oks_nms" else soft_oks_nms
                instances = [instances[k] for k in nms(instances, self.nms_thr,
                                                       sigmas=sigmas[cls["start"]:cls["stop"]])]
            out += [dict(image_id=inst["img_id"], category_id=inst["category_id"],
                         keypoints=inst["keypoints"].reshape(-1).tolist(), score=float(inst["score"]))
                    for inst in instances]
        return out

    def _score(self, bbox_score: float, scores: np.ndarray) -> float:
        if self.score_mode == "bbox":
            return float(bbox_score)
        if self.score_mode == "keypoint":
            return float(np.mean(scores))
        if self.score_mode == "bbox_rle":
            return float(bbox_score + np.mean(scores) + np.max(scores))
        above = scores[scores > self.keypoint_score_thr]
        return float(bbox_score * (above.mean() if above.size else 0))

    @staticmethod
    def write_results(results: list[dict], outfile_prefix: str) -> str:
        """``<prefix>.keypoints.json``, as CocoMetric names it."""
        res_file = f"{outfile_prefix}.keypoints.json"
        dump(results, res_file, sort_keys=True, indent=4)
        return res_file

    def evaluate_classes(self, res_file: str, classes: list[dict]) -> dict[str, float]:
        """Each class's COCOeval on its category with its sigmas; the means over classes with ground truth."""
        sigmas = np.asarray(self.dataset_meta["sigmas"], dtype=float)
        metrics, per_class = {}, []
        with contextlib.redirect_stdout(io.StringIO()):
            detections = self.coco.loadRes(res_file) if _has_results(res_file) else None
        for cls in classes:
            stats = evaluate_category(self.coco, detections, cls["id"], sigmas[cls["start"]:cls["stop"]],
                                      self.use_area)
            metrics.update({f"{cls['name']}/{name}": value for name, value in zip(STATS, stats, strict=True)})
            if self.coco.getAnnIds(catIds=[cls["id"]]):
                per_class.append(stats)
            MMLogger.get_current_instance().info(
                f"{cls['name']}: AP {stats[0]:.4f}, AR {stats[5]:.4f} ({len(cls['keypoints'])} keypoints)")
        means = np.mean(per_class, axis=0) if per_class else [-1.0] * len(STATS)
        return {**{name: float(v) for name, v in zip(STATS, means, strict=True)}, **metrics}


def _has_results(res_file: str) -> bool:
    from mmengine.fileio import load

    return bool(load(res_file))


def evaluate_category(coco: COCO, detections: COCO | None, category_id: int, sigmas: np.ndarray,
                      use_area: bool = True) -> list[float]:
    """COCOeval's ten keypoint figures for one category, with that category's sigmas (-1 where COCOeval has no
    ground truth to score; 0 everywhere when there are no detections at all)."""
    if detections is None:
        return [0.0 if coco.getAnnIds(catIds=[category_id]) else -1.0] * len(STATS)
    evaluator = COCOeval(coco, detections, "keypoints", np.asarray(sigmas), use_area)
    evaluator.params.catIds = [category_id]
    evaluator.params.useSegm = None
    with contextlib.redirect_stdout(io.StringIO()):
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


@METRICS.register_module()
class MultiClassPCKAccuracy(PCKAccuracy):
    """MMPose's PCK (normalised by the box), overall on the union (other classes' keypoints are invisible in the
    ground truth, so they never count) and for each class on its own keypoints: keys ``PCK``,
    ``<class>/PCK`` and, per keypoint a class's instances label, ``PCK/<class>/<keypoint>`` (the union's name, as
    ``KeypointBreakdownMetric`` names its per-keypoint ``PCK/<keypoint>``). Takes ``thr`` and mmengine's
    arguments; ``norm_item`` is ``'bbox'``."""

    def __init__(self, thr: float = 0.05, **kwargs) -> None:
        if kwargs.get("norm_item", "bbox") != "bbox":
            raise MmpxError(f"MultiClassPCKAccuracy normalises by the box, got norm_item={kwargs['norm_item']!r}",
                            "drop norm_item")
        kwargs.pop("norm_item", None)
        super().__init__(thr=thr, norm_item="bbox", **kwargs)

    def process(self, data_batch: Sequence[dict], data_samples: Sequence[dict]) -> None:
        start = len(self.results)
        super().process(data_batch, data_samples)
        for result, sample in zip(self.results[start:], data_samples, strict=True):
            result["category_id"] = as_json_value(sample.get("category_id", 1))

    def compute_metrics(self, results: list) -> dict[str, float]:
        metrics = super().compute_metrics(results)
        for cls in _classes(self.dataset_meta, type(self).__name__):
            mine = [r for r in results if r["category_id"] == cls["id"]]
            if not mine:
                continue
            block = slice(cls["start"], cls["stop"])
            mask = np.concatenate([r["mask"][:, block] for r in mine])
            per_kpt, pck, _ = keypoint_pck_accuracy(np.concatenate([r["pred_coords"][:, block] for r in mine]),
                                                    np.concatenate([r["gt_coords"][:, block] for r in mine]),
                                                    mask, self.thr,
                                                    np.concatenate([r["bbox_size"] for r in mine]))
            metrics[f"{cls['name']}/PCK"] = float(pck)
            for name, value, labelled in zip(cls["keypoints"], per_kpt, mask.any(axis=0), strict=True):
                if labelled:  # MMPose gives -1 to a keypoint nobody labels: left out, as a missing figure
                    metrics[f"PCK/{cls['name']}/{name}"] = float(value)
        return metrics
