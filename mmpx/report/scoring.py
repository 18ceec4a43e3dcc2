"""Score a predictions file for the report: ``mmpx eval``'s numbers, and each ground-truth instance's OKS and worst
keypoint (what the gallery sorts by).

Everything comes from :mod:`mmpx.evaluation` (the same matching, OKS and tables as ``mmpx eval``), so the
gallery's order and the tables agree with ``mmpx eval GT PRED`` on the same files.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.evaluation import api, keypoints, matching
from mmpx.evaluation.classes import check_class_predictions, evaluate_classes, gt_classes, to_union
from mmpx.evaluation.groups import HUMANART_FIELDS, group_images
from mmpx.report.predictions import KeypointSpec


@dataclass
class Scored:
    """A predictions file scored against its ground truth.

    Attributes:
        result: the ``mmpx-eval/1`` dict (what ``mmpx eval --out`` writes).
        gt: the ground-truth COCO dict. images: image id -> image dict.
        m: the matching of predictions to GT instances (N instances).
        oks: (N,) each instance's OKS with its matched prediction, 0 when none matched.
        worst: (N,) index of the keypoint with the lowest OKS term, -1 when the instance has no prediction.
        worst_px: (N,) that keypoint's distance in pixels (NaN without a prediction).
        pck_hits: (N, 2) keypoints within the PCK threshold and keypoints counted, per instance.
        groups: group value -> image ids (empty without groups).
    """

    result: dict
    gt: dict
    images: dict
    spec: KeypointSpec
    m: matching.Matching
    oks: np.ndarray
    worst: np.ndarray
    worst_px: np.ndarray
    pck_hits: np.ndarray
    groups: dict

    def group_of(self) -> dict:
        """image id -> the groups it is in."""
        out: dict = {}
        for value, ids in self.groups.items():
            for img_id in ids:
                out.setdefault(img_id, []).append(value)
        return out


def auto_groups(images: Sequence[dict]) -> list[str] | None:
    """Human-Art's ``group`` and ``scenario`` when its images tell them (category or folder), else None."""
    from mmpx.datasets.humanart import scene_of_image

    if any(scene_of_image(img)[0] for img in images[:2000]):
        return list(HUMANART_FIELDS[::-1])
    return None


def instance_scores(m: matching.Matching, sigmas: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(oks, worst keypoint, its pixel distance) of every GT instance; OKS exactly as xtcocotools computes it."""
    pred = m.matched_pred_xy
    d2 = ((pred - m.gt_xy) ** 2).sum(-1)  # (N, K), NaN where unmatched
    var = (np.asarray(sigmas, dtype=float) * 2) ** 2
    terms = np.exp(-d2 / var[None] / (m.gt_area[:, None] + np.spacing(1)) / 2)
    vis = m.gt_vis
    hit = m.gt_pred >= 0
    oks = np.where(hit, np.where(vis, np.nan_to_num(terms), 0).sum(1) / np.maximum(vis.sum(1), 1), 0.0)
    masked = np.where(vis & hit[:, None], np.nan_to_num(terms, nan=2.0), 2.0)  # 2: never the worst
    worst = np.where(hit & vis.any(1), masked.argmin(1) if len(masked) else 0, -1)
    rows = np.arange(len(worst))
    worst_px = np.where(worst >= 0, np.sqrt(d2[rows, np.maximum(worst, 0)]) if len(worst) else 0, np.nan)
    return oks, worst, worst_px


def _pck_hits(m: matching.Matching, thr: float, norm: str) -> np.ndarray:
    """(N, 2): per instance, keypoints within ``thr`` and keypoints counted, as :func:`keypoints.pck` counts."""
    size = keypoints.norm_sizes(m, norm)
    mask = m.gt_vis & (size != 0)[:, None]
    dist = np.linalg.norm((m.matched_pred_xy - m.gt_xy) / np.where(size <= 0, 1e6, size)[:, None, None], axis=-1)
    dist = np.where(np.isnan(dist), np.inf, dist).astype(np.float32)
    return np.stack([((dist < thr) & mask).sum(1), mask.sum(1)], 1)


def load_coco(gt_path: Path):
    """The ground truth as an ``xtcocotools`` COCO object (its printing silenced)."""
    from xtcocotools.coco import COCO

    gt = api._read_json(gt_path, "ground-truth")
    if not isinstance(gt, dict) or not {"images", "annotations"} <= set(gt):
        raise MmpxError(f"{gt_path}: not a COCO annotation file (needs images and annotations)",
                        "the report needs the COCO keypoint ground truth the predictions were made on")
    gt.setdefault("categories", [dict(id=1, name="person")])
    coco = COCO()
    coco.dataset = gt
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def score(gt_path: Path, results: list[dict], spec: KeypointSpec, by: str | list[str] | None = None,
          pck_thr: float = 0.05, pck_norm: str = "bbox", source: str = "predictions") -> Scored:
    """Evaluate ``results`` against ``gt_path`` as ``mmpx eval`` does, and score every instance.

    Args:
        by: image field(s) to group by; None: Human-Art's group and scenario where the images tell them.

    Raises:
        MmpxError: an unreadable GT, or predictions that ``mmpx eval`` refuses (named by index and image).
    """
    coco = load_coco(gt_path)
    gt = coco.dataset
    classes = gt_classes(gt, spec.names)
    if classes is not None:
        return _score_classes(gt_path, gt, results, spec, classes, by, pck_thr, pck_norm, source)
    bad = next((a for a in gt["annotations"] if len(a.get("keypoints", ())) != 3 * len(spec.names)), None)
    if bad is not None:
        raise MmpxError(f"{gt_path}: annotation {bad.get('id')} has {len(bad.get('keypoints', ()))} keypoint values, "
                        f"expected {3 * len(spec.names)}", "the predictions were made on another keypoint layout")
    api.check_predictions(results, gt, len(spec.names), source)
    by = auto_groups(gt["images"]) if by is None else by
    m = matching.match(coco.imgs, gt["annotations"], results, spec.sigmas)
    result = api.evaluate_loaded(coco, results, spec.names, spec.sigmas, spec.flip, by, pck_thr=pck_thr,
                                 pck_norm=pck_norm, matched=m)
    oks, worst, worst_px = instance_scores(m, spec.sigmas)
    return Scored(result, gt, coco.imgs, spec, m, oks, worst, worst_px, _pck_hits(m, pck_thr, pck_norm),
                  group_images(gt["images"], by))


def _score_classes(gt_path: Path, gt: dict, results: list[dict], spec: KeypointSpec, classes, by, pck_thr: float,
                   pck_norm: str, source: str) -> Scored:
    """:func:`score` for several classes (the GT's categories are blocks of ``spec``'s union): the tables are
    ``mmpx eval``'s per class; the instances are matched and scored in the union, where each one's other classes'
    keypoints are unlabelled, so its OKS and worst keypoint are its class's own (and nothing of another class is
    drawn)."""
    from xtcocotools.coco import COCO

    check_class_predictions(results, gt, classes, source)
    by = auto_groups(gt["images"]) if by is None else by
    result = evaluate_classes(gt, results, classes, spec.sigmas, spec.flip, by, api.METRICS, pck_thr, pck_norm,
                              str(gt_path))
    union = dict(gt, annotations=to_union(gt["annotations"], classes, len(spec.names)))
    coco = COCO()
    coco.dataset = union
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    m = matching.match(coco.imgs, union["annotations"], to_union(results, classes, len(spec.names)), spec.sigmas)
    block = {c.id: (c.start, c.stop) for c in classes}
    for g, p in enumerate(m.gt_pred):  # a prediction shows its class's points only
        if p >= 0:
            start, stop = block[m.gt_anns[g]["category_id"]]
            m.pred_xy[p, :start] = np.nan
            m.pred_xy[p, stop:] = np.nan
    oks, worst, worst_px = instance_scores(m, spec.sigmas)
    return Scored(result, union, coco.imgs, spec, m, oks, worst, worst_px, _pck_hits(m, pck_thr, pck_norm),
                  group_images(gt["images"], by))


def group_rows(scored: Scored) -> list[dict]:
    """Per group: images, instances, COCO AP/AR (from ``mmpx eval``), PCK and mean instance OKS."""
    groups = scored.result.get("groups") or {}
    rows = []
    for value, ids in scored.groups.items():
        inside = np.isin(scored.m.gt_img, np.asarray(ids))
        hits = scored.pck_hits[inside].sum(0) if inside.any() else np.zeros(2)
        coco = groups.get(value, {})
        rows.append(dict(name=value, images=len(ids), instances=int(inside.sum()),
                         AP=coco.get("AP"), AR=coco.get("AR"),
                         PCK=float(hits[0] / hits[1]) if hits[1] else None,
                         OKS=float(scored.oks[inside].mean()) if inside.any() else None))
    return rows
