"""Per-keypoint PCK, EPE, OKS AP and left/right swap rate on a :class:`~mmpx.evaluation.matching.Matching`.

PCK and EPE follow MMPose's ``keypoint_pck_accuracy`` / ``keypoint_epe`` (``evaluation/functional/
keypoint_eval.py``) to the bit: normalised distances are stored as float32 and compared with ``<``; a keypoint
counts where the GT labels it (visibility > 0) and the instance's normaliser is non-zero; the mean PCK is the
mean of the per-keypoint PCKs that have any such keypoint. A GT instance without a matched prediction counts as
a miss for every labelled keypoint in PCK and OKS AP, and is left out of EPE (it has no distance).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmpx.errors import MmpxError
from mmpx.evaluation.matching import Matching

OKS_THRS = np.linspace(0.5, 0.95, 10)
REC_THRS = np.linspace(0.0, 1.0, 101)
# MMPose's PCKAccuracy torso: the distance between keypoints 4 and 5 (its JHMDB layout)
TORSO = (4, 5)


def norm_sizes(m: Matching, norm: str, torso: Sequence[int] = TORSO) -> np.ndarray:
    """(N,) the PCK normaliser of each GT instance, as MMPose's ``PCKAccuracy.process`` computes it.

    ``bbox``: max(w, h) of the GT box after MMPose's datasets clip it to the image (float32, x2 - x1);
    ``torso``: GT distance between keypoints ``torso`` (the prediction's when the GT one is < 1);
    ``head``: the annotation's ``head_size``.
    """
    if norm == "bbox":
        x, y, w, h = m.gt_bbox.T
        img_w, img_h = m.img_wh.T
        xyxy = np.stack([np.clip(x, 0, img_w - 1), np.clip(y, 0, img_h - 1),
                         np.clip(x + w, 0, img_w - 1), np.clip(y + h, 0, img_h - 1)], 1).astype(np.float32)
        return np.max(xyxy[:, 2:] - xyxy[:, :2], axis=1).astype(float)
    if norm == "torso":
        a, b = torso
        size = np.linalg.norm(m.gt_xy[:, a] - m.gt_xy[:, b], axis=-1)
        pred = m.matched_pred_xy
        fallback = np.linalg.norm(pred[:, a] - pred[:, b], axis=-1)
        return np.where((size < 1) & ~np.isnan(fallback), fallback, size)
    if norm == "head":
        missing = [a.get("id") for a in m.gt_anns if "head_size" not in a]
        if missing:
            raise MmpxError(f"PCK normalised by head size needs `head_size` in every annotation; "
                            f"{len(missing)} lack it (ids {missing[:5]})", "use --pck-norm bbox or torso")
        return np.asarray([a["head_size"] for a in m.gt_anns], dtype=float)
    raise MmpxError(f"unknown PCK normalisation {norm!r}", "use bbox, torso or head")


def _distances(m: Matching, norm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) float32 normalised distances (inf for unmatched GT) and the (N, K) mask of counted keypoints."""
    mask = m.gt_vis & (norm != 0)[:, None]
    norm = np.where(norm <= 0, 1e6, norm)
    diff = (m.matched_pred_xy - m.gt_xy) / norm[:, None, None]
    dist = np.linalg.norm(diff, axis=-1).astype(np.float32)
    return np.where(np.isnan(dist), np.inf, dist), mask


def pck(m: Matching, thr: float = 0.05, norm: str = "bbox", torso: Sequence[int] = TORSO):
    """Per-keypoint PCK (NaN where no keypoint counts), the mean PCK, and the per-keypoint counts."""
    dist, mask = _distances(m, norm_sizes(m, norm, torso))
    count = mask.sum(0)
    hits = ((dist < thr) & mask).sum(0)
    per_kpt = np.where(count > 0, hits / np.maximum(count, 1), np.nan)
    valid = per_kpt[count > 0]
    return per_kpt, float(valid.mean()) if len(valid) else 0.0, count


def epe(m: Matching) -> tuple[np.ndarray, float]:
    """Per-keypoint and overall end-point error in pixels, over matched instances' labelled keypoints."""
    dist, mask = _distances(m, np.ones(len(m.gt_xy)))
    mask = mask & np.isfinite(dist)
    per_kpt = np.where(mask.any(0), np.where(mask, dist, 0).sum(0) / np.maximum(mask.sum(0), 1), np.nan)
    overall = float(dist[mask].sum() / max(1, mask.sum()))
    return per_kpt, overall


def oks_ap(m: Matching, sigmas: Sequence[float]) -> np.ndarray:
    """(K,) per-keypoint OKS AP: COCO's AP computed for each keypoint alone, the match held fixed.

    For keypoint k every prediction is a detection with its instance score. Its keypoint OKS is
    exp(-d^2 / (2 * area * (2 * sigma_k)^2)) against the GT it is matched to (COCO's per-keypoint term, the GT
    area as in xtcocotools). At threshold t it is a true positive if that OKS >= t, a false positive if it is
    unmatched or below t, and ignored if its GT does not label keypoint k, or if it is unmatched and COCOeval
    would match it to an instance it ignores at threshold t (see :mod:`mmpx.evaluation.matching`). Positives
    are the GT instances labelling k. Precision is made monotone and read at 101 recall points, then averaged over
    t = 0.50:0.05:0.95, as in ``COCOeval.accumulate``. NaN where no GT labels k.
    """
    sigmas = np.asarray(sigmas, dtype=float)
    # COCOeval's order: per image (ids ascending) by score, then a stable sort by score over all (ties matter)
    img_rank = np.unique(m.pred_img, return_inverse=True)[1] if len(m.pred_img) else np.zeros(0, int)
    per_image = np.lexsort((np.arange(len(m.pred_score)), -m.pred_score, img_rank))
    order = per_image[np.argsort(-m.pred_score[per_image], kind="mergesort")]
    gt_of = m.pred_gt[order]
    hit = gt_of >= 0
    d2 = np.full((len(order), len(sigmas)), np.inf)
    d2[hit] = ((m.pred_xy[order][hit] - m.gt_xy[gt_of[hit]]) ** 2).sum(-1)
    area = np.where(hit, m.gt_area[np.maximum(gt_of, 0)] if len(m.gt_area) else 0.0, 1.0)
    oks = np.exp(-d2 / ((sigmas * 2) ** 2)[None] / (area[:, None] + np.spacing(1)) / 2)  # (P, K)
    ignore = np.zeros_like(oks, dtype=bool)
    ignore[hit] = ~m.gt_vis[gt_of[hit]]
    npos = m.gt_vis.sum(0)
    ap = np.full(len(sigmas), np.nan)
    # an unmatched prediction that COCOeval would match to an ignored instance at threshold t is ignored there
    on_ignored = (~hit)[None] & (m.pred_ignore_oks[order][None] >= OKS_THRS[:, None])  # (T, P)
    for k in np.flatnonzero(npos):
        precs = []
        for t in range(len(OKS_THRS)):
            keep = ~ignore[:, k] & ~on_ignored[t]
            tp = oks[keep, k] >= OKS_THRS[t]
            tps, fps = np.cumsum(tp), np.cumsum(~tp)
            recall = tps / npos[k]
            precision = tps / np.maximum(tps + fps, np.spacing(1))
            precision = np.maximum.accumulate(precision[::-1])[::-1]
            idx = np.searchsorted(recall, REC_THRS, side="left")
            q = np.zeros(len(REC_THRS))
            ok = idx < len(precision)
            q[ok] = precision[idx[ok]]
            precs.append(q.mean())
        ap[k] = float(np.mean(precs))
    return ap


def swap_pairs(swap_indices: Sequence[int]) -> list[tuple[int, int]]:
    """Left/right pairs (a < b) from MMPose's ``flip_indices`` (keypoint i's partner, i itself if none)."""
    return sorted({(min(i, j), max(i, j)) for i, j in enumerate(swap_indices) if i != j})


def swaps(m: Matching, pairs: Sequence[tuple[int, int]]) -> list[dict]:
    """For each left/right pair, how often a predicted keypoint lies nearer its partner's GT than its own.

    Counted over matched instances labelling both keypoints of the pair: ``swapped`` keypoints out of
    ``total`` (two per instance), ``rate`` = swapped / total, and ``swapped_pairs``: instances where both
    keypoints of the pair are swapped (a full left/right exchange).
    """
    pred = m.matched_pred_xy
    out = []
    for a, b in pairs:
        valid = m.gt_vis[:, a] & m.gt_vis[:, b] & (m.gt_pred >= 0)
        pa, pb, ga, gb = pred[valid, a], pred[valid, b], m.gt_xy[valid, a], m.gt_xy[valid, b]
        sw_a = np.linalg.norm(pa - gb, axis=-1) < np.linalg.norm(pa - ga, axis=-1)
        sw_b = np.linalg.norm(pb - ga, axis=-1) < np.linalg.norm(pb - gb, axis=-1)
        total = 2 * int(valid.sum())
        swapped = int(sw_a.sum() + sw_b.sum())
        out.append(dict(pair=(a, b), swapped=swapped, swapped_pairs=int((sw_a & sw_b).sum()), total=total,
                        rate=swapped / total if total else None))
    return out
