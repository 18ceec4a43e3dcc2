"""``KeypointBreakdownMetric``: per-keypoint PCK, EPE and OKS AP, and the left/right swap rate, in a run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mmpose.evaluation.metrics import CocoMetric

from mmpose_ext.evaluation.metrics._json import as_json_value
from mmpose_ext.registry import METRICS
from mmpx.evaluation.api import evaluate_loaded

PER_KEYPOINT = ("pck", "epe", "oks_per_keypoint", "swap")


@METRICS.register_module()
class KeypointBreakdownMetric(CocoMetric):
    """Per-keypoint metrics for any skeleton, computed by :func:`mmpx.evaluation.evaluate_loaded`.

    Predictions are collected and scored exactly as MMPose's ``CocoMetric`` does (same ``process()``, same
    ``score_mode``), turned into COCO results in memory and matched to the GT instances (greedy by OKS, see
    :mod:`mmpx.evaluation.matching`); so ``mmpx eval ANN <prefix>.keypoints.json`` on the file this metric
    writes with ``outfile_prefix`` gives the same numbers. Definitions: docs/guides/evaluation.md.

    Keys (mmengine prefixes them with ``kpt/``): ``PCK``, ``EPE``, ``OKS AP``, ``swap rate`` and per keypoint
    ``PCK/<name>``, ``EPE/<name>``, ``OKS AP/<name>``, per pair ``swap rate/<left>|<right>``.

    Args:
        metrics: any of ``pck``, ``epe``, ``oks_per_keypoint``, ``swap``.
        pck_thr: PCK threshold (MMPose's ``PCKAccuracy`` default 0.05).
        pck_norm: ``bbox``, ``torso`` or ``head``, as ``PCKAccuracy``'s ``norm_item``.
        nms_mode: default ``'none'``: like ``PCKAccuracy``, every prediction is scored.
        **kwargs: everything :class:`~mmpose.evaluation.metrics.CocoMetric` takes.
    """

    default_prefix = "kpt"

    def __init__(self, metrics: Sequence[str] = PER_KEYPOINT, pck_thr: float = 0.05, pck_norm: str = "bbox",
                 nms_mode: str = "none", **kwargs) -> None:
        super().__init__(nms_mode=nms_mode, **kwargs)
        self.metrics = [m for m in metrics if m != "coco"]
        self.pck_thr = pck_thr
        self.pck_norm = pck_norm

    def compute_metrics(self, results: list) -> dict[str, float]:
        fast = (self.nms_mode == "none" and self.score_mode == "bbox_keypoint" and self.coco is not None
                and self.pred_converter is None and self.gt_converter is None and self.outfile_prefix is None)
        if not fast:
            return super().compute_metrics(results)
        self._coco_results = coco_results([pred for pred, _ in results], self.keypoint_score_thr)
        return dict(self._do_python_keypoint_eval(""))

    def results2json(self, keypoints: dict, outfile_prefix: str) -> str:
        # the same values CocoMetric writes, kept in memory; the file only when asked for
        self._coco_results = [
            dict(image_id=as_json_value(inst["img_id"]), category_id=as_json_value(inst["category_id"]),
                 keypoints=np.asarray(inst["keypoints"]).reshape(-1).tolist(), score=float(inst["score"]))
            for instances in keypoints.values() for inst in instances
        ]
        if self.outfile_prefix is not None:
            return super().results2json(keypoints, outfile_prefix)
        return f"{outfile_prefix}.keypoints.json"

    def _do_python_keypoint_eval(self, outfile_prefix: str) -> list:
        meta = self.dataset_meta
        id2name = meta.get("keypoint_id2name") or {}
        names = [id2name.get(i, str(i)) for i in range(meta["num_keypoints"])]
        out = evaluate_loaded(self.coco, self._coco_results, names, meta["sigmas"], meta.get("flip_indices"),
                              metrics=self.metrics, pck_thr=self.pck_thr, pck_norm=self.pck_norm,
                              use_area=self.use_area)
        return flatten(out)


def coco_results(preds: list[dict], keypoint_score_thr: float) -> list[dict]:
    """COCO results exactly as CocoMetric (nms_mode='none', score_mode='bbox_keypoint') writes them, vectorised.

    Same order (images by first appearance, instances by sample id, duplicates dropped) and the same float32
    arithmetic: the mean keypoint score is a sequential float32 sum (a cumulative sum), as CocoMetric's loop.
    """
    by_img: dict = {}
    for pred in preds:
        by_img.setdefault(pred["img_id"], []).append(pred)
    out = []
    for img_preds in by_img.values():
        if not isinstance(img_preds[0]["id"], Sequence):  # top-down: one sample id per instance
            img_preds = sorted(img_preds, key=lambda p: p["id"])
            img_preds = [p for i, p in enumerate(img_preds) if i == 0 or p["id"] != img_preds[i - 1]["id"]]
        for pred in img_preds:
            scores = np.asarray(pred["keypoint_scores"])
            kpts = np.concatenate([pred["keypoints"], scores[..., None]], axis=-1)
            kept = np.where(scores > keypoint_score_thr, scores, 0).astype(scores.dtype)
            total = np.cumsum(kept, axis=-1, dtype=kept.dtype)[..., -1]
            num = (scores > keypoint_score_thr).sum(-1)
            for j in range(len(kpts)):
                mean = total[j] / int(num[j]) if num[j] else 0  # python int: stays float32
                out.append(dict(image_id=as_json_value(pred["img_id"]), category_id=as_json_value(pred["category_id"]),
                                keypoints=kpts[j].reshape(-1).tolist(),
                                score=float(pred["bbox_scores"][j] * mean)))
    return out


def flatten(out: dict) -> list[tuple[str, float]]:
    """Metric names and values of an ``mmpx-eval/1`` dict, as logged in a run (None values left out)."""
    items = [("OKS AP" if k == "OKS AP (mean per keypoint)" else k, v) for k, v in out["metrics"].items()]
    for row in out.get("keypoints", []):
        items += [(f"{key}/{row['name']}", row[key]) for key in ("PCK", "EPE", "OKS AP") if key in row]
    for pair in out.get("swaps", []):
        items.append((f"swap rate/{pair['pair'][0]}|{pair['pair'][1]}", pair["rate"]))
    return [(k, float(v)) for k, v in items if v is not None]
