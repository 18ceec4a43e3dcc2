"""Match COCO keypoint results (which carry no link to a GT instance) to GT instances, for per-keypoint metrics.

Results whose keypoint scores are all 0 are dropped first, as COCOeval drops them. The matching, per image and
category: every non-crowd GT instance with at least one labelled keypoint
(visibility > 0) is a candidate; OKS between each prediction and each candidate is computed exactly as
xtcocotools does (GT ``area``, sigmas of the metainfo); then pairs are taken greedily in descending OKS order
(ties: lower prediction index, then lower GT index first), each prediction and each GT used at most once, a
pair only when its OKS is > 0. GT instances that COCOeval ignores (crowd, or no labelled keypoint) are not
candidates; instead each unmatched prediction records its best OKS with them, computed as COCOeval does (for an
instance without keypoints: the distance to its box grown to three times its size), so that per-keypoint OKS AP
ignores it where COCOeval would match it to an ignored instance. For MMPose's top-down runs on GT boxes (one
prediction per GT box, near it) this
pairs every prediction with its own box's instance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class Matching:
    """GT instances (N) and predictions (P) as arrays, with the match between them.

    Attributes:
        gt_xy: (N, K, 2) GT coordinates. gt_vis: (N, K) labelled (visibility > 0).
        gt_area: (N,) GT area. gt_bbox: (N, 4) GT box xywh. img_wh: (N, 2) image width and height.
        gt_img: (N,) image id of each GT. gt_anns: the N annotation dicts.
        pred_xy: (P, K, 2). pred_score: (P,). pred_img: (P,) image id of each prediction.
        gt_pred: (N,) index of the matched prediction or -1. pred_gt: (P,) index of the matched GT or -1.
        pred_ignore_oks: (P,) an unmatched prediction's best OKS with a GT instance COCOeval ignores (0: none).
    """

    gt_xy: np.ndarray
    gt_vis: np.ndarray
    gt_area: np.ndarray
    gt_bbox: np.ndarray
    img_wh: np.ndarray
    gt_img: np.ndarray
    gt_anns: list
    pred_xy: np.ndarray
    pred_score: np.ndarray
    pred_img: np.ndarray
    gt_pred: np.ndarray
    pred_gt: np.ndarray
    pred_ignore_oks: np.ndarray

    @property
    def matched_pred_xy(self) -> np.ndarray:
        """(N, K, 2) the matched prediction of each GT; NaN where the GT is unmatched."""
        out = np.full(self.gt_xy.shape, np.nan)
        hit = self.gt_pred >= 0
        out[hit] = self.pred_xy[self.gt_pred[hit]]
        return out


def oks_matrix(pred_xy: np.ndarray, gt_xy: np.ndarray, gt_vis: np.ndarray, gt_area: np.ndarray,
               sigmas: np.ndarray) -> np.ndarray:
    """(P, G) OKS as xtcocotools' ``computeOks`` (use_area=True) for GT with labelled keypoints."""
    variances = (sigmas * 2) ** 2
    d2 = ((pred_xy[:, None] - gt_xy[None]) ** 2).sum(-1)  # (P, G, K)
    e = d2 / variances / (gt_area[None, :, None] + np.spacing(1)) / 2
    vis = gt_vis[None].astype(float)
    return (np.exp(-e) * vis).sum(-1) / np.maximum(vis.sum(-1), 1)


def _greedy(oks: np.ndarray) -> list[tuple[int, int]]:
    if oks.shape == (1, 1):
        return [(0, 0)] if oks[0, 0] > 0 else []
    order = np.argsort(-oks, axis=None, kind="stable")
    used_p, used_g, pairs = set(), set(), []
    for flat in order:
        p, g = divmod(int(flat), oks.shape[1])
        if oks[p, g] <= 0 or len(pairs) == min(oks.shape):
            break
        if p not in used_p and g not in used_g:
            used_p.add(p)
            used_g.add(g)
            pairs.append((p, g))
    return pairs


def match(images: Mapping, annotations: Sequence[dict], results: Sequence[dict],
          sigmas: Sequence[float]) -> Matching:
    """Match ``results`` to ``annotations`` (see the module docstring).

    Args:
        images: image id -> COCO image dict (for ``width``/``height``).
        annotations: COCO keypoint annotations.
        results: COCO keypoint results.
        sigmas: OKS sigma per keypoint (K).
    """
    sigmas = np.asarray(sigmas, dtype=float)
    num_k = len(sigmas)
    results = [r for r in results if np.any(np.asarray(r["keypoints"], dtype=float)[2::3] > 0)]
    def labelled(a: dict) -> bool:
        return not a.get("iscrowd", 0) and bool(np.any(np.asarray(a["keypoints"], dtype=float)[2::3] > 0))

    anns = [a for a in annotations if labelled(a)]
    ignored_gts = defaultdict(list)
    for a in annotations:
        if not labelled(a):
            ignored_gts[a["image_id"], a.get("category_id", 1)].append(a)
    gt_kpts = np.asarray([a["keypoints"] for a in anns], dtype=float).reshape(len(anns), num_k, 3)
    pred_kpts = np.asarray([r["keypoints"] for r in results], dtype=float).reshape(len(results), num_k, 3)
    gt_img = np.asarray([a["image_id"] for a in anns])
    pred_img = np.asarray([r["image_id"] for r in results])
    wh = [(images[i].get("width", np.inf), images[i].get("height", np.inf)) for i in gt_img]
    m = Matching(
        gt_xy=gt_kpts[..., :2], gt_vis=gt_kpts[..., 2] > 0,
        gt_area=np.asarray([a.get("area", 0.0) for a in anns], dtype=float),
        gt_bbox=np.asarray([a.get("bbox", [0, 0, 0, 0]) for a in anns], dtype=float).reshape(-1, 4),
        img_wh=np.asarray(wh, dtype=float).reshape(-1, 2), gt_img=gt_img, gt_anns=anns,
        pred_xy=pred_kpts[..., :2], pred_score=np.asarray([r.get("score", 1.0) for r in results], dtype=float),
        pred_img=pred_img, gt_pred=np.full(len(anns), -1), pred_gt=np.full(len(results), -1),
        pred_ignore_oks=np.zeros(len(results)),
    )
    gts_of, preds_of = defaultdict(list), defaultdict(list)
    for i, a in enumerate(anns):
        gts_of[a["image_id"], a.get("category_id", 1)].append(i)
    for i, r in enumerate(results):
        preds_of[r["image_id"], r.get("category_id", 1)].append(i)
    for key, p_idx in preds_of.items():
        g_idx = gts_of.get(key)
        if g_idx:
            oks = oks_matrix(m.pred_xy[p_idx], m.gt_xy[g_idx], m.gt_vis[g_idx], m.gt_area[g_idx], sigmas)
            for p, g in _greedy(oks):
                m.pred_gt[p_idx[p]] = g_idx[g]
                m.gt_pred[g_idx[g]] = p_idx[p]
        unmatched = [p for p in p_idx if m.pred_gt[p] < 0]
        if key in ignored_gts and unmatched:
            m.pred_ignore_oks[unmatched] = _ignored_oks(m.pred_xy[unmatched], ignored_gts[key], sigmas).max(1)
    return m


def _ignored_oks(pred_xy: np.ndarray, gts: list[dict], sigmas: np.ndarray) -> np.ndarray:
    """(P, G) OKS with ignored GT instances, as xtcocotools' ``computeOks``."""
    variances = (sigmas * 2) ** 2
    out = np.zeros((len(pred_xy), len(gts)))
    for j, gt in enumerate(gts):
        kpts = np.asarray(gt["keypoints"], dtype=float).reshape(-1, 3)
        vis = kpts[:, 2] > 0
        if vis.any():  # a crowd instance with keypoints: the usual OKS
            d2 = ((pred_xy - kpts[None, :, :2]) ** 2).sum(-1)
        else:  # no keypoints: distance to the box grown to 3x, on every keypoint
            x, y, w, h = gt.get("bbox", [0, 0, 0, 0])
            lo, hi = np.array([x - w, y - h]), np.array([x + 2 * w, y + 2 * h])
            d2 = (np.maximum(0, lo - pred_xy) + np.maximum(0, pred_xy - hi)) ** 2
            d2 = d2.sum(-1)
            vis = np.ones_like(vis)
        e = d2 / variances[None] / (gt.get("area", 0.0) + np.spacing(1)) / 2
        out[:, j] = np.exp(-e)[:, vis].mean(1)
    return out
