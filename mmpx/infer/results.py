"""COCO keypoint results: what ``mmpx eval`` and pycocotools' ``loadRes`` read (written by :mod:`mmpx.atomic`);
from a model with a visibility head each record also has ``keypoint_visible`` (:func:`add_visible`)."""

from __future__ import annotations

import numpy as np

# MMPose's CocoMetric rescoring: instance score = box score x mean of the keypoint scores above this
KPT_SCORE_THR = 0.2


def keypoint_names(dataset_meta: dict) -> list[str]:
    """The model's keypoint names in order (``keypoint_id2name``, whose keys are ints or, from JSON, strings)."""
    names = dataset_meta.get("keypoint_id2name") or {}
    count = int(dataset_meta.get("num_keypoints", len(names)))
    return [str(names.get(i, names.get(str(i), f"kpt_{i}"))) for i in range(count)]


def instance_records(image_id: int, file_name: str, keypoints: np.ndarray, scores: np.ndarray,
                     bboxes: np.ndarray, bbox_scores: np.ndarray, category_id: int = 1,
                     category: str | None = None) -> list[dict]:
    """One COCO result per instance: keypoints [x, y, s]*K, bbox [x, y, w, h], score as CocoMetric rescores;
    with ``category`` (a multi-class model's class name, whose id is ``category_id``) a ``category`` field."""
    records = []
    for kpts, kscores, box, bscore in zip(keypoints, scores, bboxes, bbox_scores, strict=True):
        kscores = np.nan_to_num(np.asarray(kscores, np.float64))
        confident = kscores[kscores > KPT_SCORE_THR]
        score = float(bscore) * (float(confident.mean()) if confident.size else 0.0)
        flat = np.concatenate([np.nan_to_num(np.asarray(kpts, np.float64)), kscores[:, None]], axis=1).reshape(-1)
        x1, y1, x2, y2 = (float(v) for v in box)
        records.append(dict(
            image_id=int(image_id),
            file_name=file_name,
            category_id=int(category_id),
            keypoints=[round(float(v), 3) for v in flat],
            score=round(score, 6),
            bbox=[round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)],
            bbox_score=round(float(bscore), 6),
        ))
        if category is not None:
            records[-1]["category"] = str(category)
    return records


def add_track_fields(records: list[dict], track_ids: np.ndarray | None, raw_keypoints: np.ndarray | None,
                     scores: np.ndarray) -> list[dict]:
    """With tracking, each record's ``track_id``; with smoothing, ``keypoints_raw`` ([x, y, s]*K as the model gave
    them; ``keypoints`` then holds the smoothed ones). Changes ``records`` in place and returns it."""
    for i, record in enumerate(records):
        if track_ids is not None:
            record["track_id"] = int(track_ids[i])
        if raw_keypoints is not None:
            raw = np.concatenate([np.nan_to_num(np.asarray(raw_keypoints[i], np.float64)),
                                  np.nan_to_num(np.asarray(scores[i], np.float64))[:, None]], axis=1)
            record["keypoints_raw"] = [round(float(v), 3) for v in raw.reshape(-1)]
    return records


def add_visible(records: list[dict], visible: np.ndarray | None) -> list[dict]:
    """With a visibility head (``mmpx configs new --visibility``), each record's ``keypoint_visible``: per keypoint
    the probability (0..1) that it is seen, not hidden. COCO tools ignore the extra field. Changes ``records`` in
    place and returns it; without visibility (None) the records stay as they are."""
    if visible is None:
        return records
    for record, row in zip(records, np.asarray(visible, np.float64), strict=True):
        record["keypoint_visible"] = [round(float(v), 4) for v in np.nan_to_num(row)]
    return records
