"""COCO keypoint AP/AR overall and per group of images, from one xtcocotools evaluation. numpy + xtcocotools only.

``COCOeval.evaluate()`` matches detections to ground truth image by image, so the per-image results of one run
are exactly those a run restricted to a group's images would produce. Each group's numbers therefore come from
``accumulate()/summarize()`` over that group's slice of ``evalImgs`` (in the same image order a fresh run would
use), which gives the same AP as a fresh ``COCOeval`` with ``params.imgIds`` set to the group's images.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

# the names and order of MMPose's CocoMetric (iou_type='keypoints'), which are xtcocotools' `stats`
STATS_NAMES: tuple[str, ...] = (
    "AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)",
)


def load_results(coco_gt, results: Sequence[dict]):
    """``coco_gt.loadRes`` on copies of ``results`` (loadRes adds fields to the dicts it is given)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return coco_gt.loadRes([dict(r) for r in results])


def run_cocoeval(coco_gt, coco_dt, sigmas: Sequence[float], use_area: bool = True,
                 iou_type: str = "keypoints"):
    """Run ``COCOeval.evaluate()`` once (quietly), as MMPose's CocoMetric configures it."""
    from xtcocotools.cocoeval import COCOeval

    coco_eval = COCOeval(coco_gt, coco_dt, iou_type, np.array(sigmas), use_area)
    coco_eval.params.useSegm = None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_eval.evaluate()
    return coco_eval


def summarize(coco_eval, img_ids: Iterable | None = None) -> dict[str, float]:
    """AP/AR named as :data:`STATS_NAMES`, over all evaluated images or over ``img_ids`` only.

    ``img_ids`` must be a subset of the evaluated images. ``coco_eval`` itself is left unchanged.
    """
    if img_ids is None:
        sub = coco_eval
    else:
        pe = coco_eval._paramsEval
        all_ids = list(pe.imgIds)
        position = {img_id: i for i, img_id in enumerate(all_ids)}
        # a fresh run sorts its image ids (np.unique); the same order keeps score ties broken the same way
        keep = sorted(position[i] for i in set(img_ids))
        num_img = len(all_ids)
        blocks = len(coco_eval.evalImgs) // max(num_img, 1)
        sub = copy.copy(coco_eval)
        sub.evalImgs = [coco_eval.evalImgs[b * num_img + i] for b in range(blocks) for i in keep]
        sub._paramsEval = copy.copy(pe)
        sub._paramsEval.imgIds = [all_ids[i] for i in keep]
        sub.params = copy.copy(coco_eval.params)
        sub.params.imgIds = list(sub._paramsEval.imgIds)
    with contextlib.redirect_stdout(io.StringIO()):
        sub.accumulate()
        sub.summarize()
    return {name: float(value) for name, value in zip(STATS_NAMES, sub.stats, strict=False)}


def grouped_coco_metrics(coco_gt, results: Sequence[dict], sigmas: Sequence[float],
                         groups: Mapping[str, Sequence] | None = None, use_area: bool = True,
                         ) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """COCO keypoint AP/AR overall and for each group, evaluating the predictions once.

    Args:
        coco_gt: an ``xtcocotools.coco.COCO`` with the ground truth.
        results: COCO keypoint results (``image_id``, ``category_id``, ``keypoints``, ``score``).
        sigmas: OKS sigma per keypoint.
        groups: group value -> image ids of the group.
        use_area: use the GT ``area`` in OKS (MMPose's default), else 0.53 x the box area.

    Returns:
        (overall metrics, {group: metrics}), both keyed by :data:`STATS_NAMES`.
    """
    coco_eval = run_cocoeval(coco_gt, load_results(coco_gt, results), sigmas, use_area)
    overall = summarize(coco_eval)
    per_group = {str(value): summarize(coco_eval, ids) for value, ids in (groups or {}).items()}
    return overall, per_group
