"""How much labelling a candidate image would teach the model, measured without labels.

Per instance: **flip disagreement**, the mean distance between the keypoints predicted on the image and on its
mirror image (mapped back, left and right swapped), over the square root of the box area (the scale OKS uses);
and **low confidence**, 1 - the mean keypoint score. A model that has learned an object predicts the same
keypoints both ways and scores them high. The candidate's uncertainty is that of its least certain instance,
each signal as a rank among all candidates (they live on different scales), then averaged.

A candidate where the box source found nothing is a **detector miss**: either nothing is there or the detector
failed, and only a person can tell, so it counts as the least certain possible (infinite disagreement, zero
confidence). It ranks above every candidate with an instance and its uncertainty is 1.

For diversity each candidate is described by a small thumbnail (appearance) and its most uncertain instance's
predicted pose in box coordinates (what the model sees there), each block of unit length; a miss's pose block
is zeros (no pose: at the same distance, 1, from every predicted pose, so misses group by appearance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

THUMB = 16  # thumbnail side: near-identical frames are near-identical at 16x16, different scenes are not


@dataclass
class Candidate:
    """One image or video frame: where it is, what the model predicted, how unsure it is."""

    name: str  # relative name (``clip.mp4#frame=30`` for a frame)
    path: str
    frame: int | None = None
    instances: int = 0
    disagreement: float = 0.0  # of the least certain instance (flip disagreement / sqrt(box area)); 0 for a miss
    confidence: float = 0.0  # mean keypoint score of that instance; 0 for a miss (nothing predicted)
    uncertainty: float = 0.0  # the combined rank score in [0, 1], set by :func:`combine`
    feature: np.ndarray = field(default=None, repr=False)
    prediction: tuple = field(default=None, repr=False)  # (keypoints, scores, bboxes) for the pre-label


def mirror_boxes(bboxes: np.ndarray, width: int) -> np.ndarray:
    """x1, y1, x2, y2 boxes of the horizontally mirrored image. Box edges map x -> width - x (a box over pixels
    x1..x2-1 covers width-x2..width-1-x1 mirrored), keypoints (pixel centres) x -> width - 1 - x."""
    flipped = np.asarray(bboxes, np.float32).copy()
    flipped[:, [0, 2]] = width - flipped[:, [2, 0]]
    return flipped


def flip_disagreement(model, image: np.ndarray, bboxes: np.ndarray, flip_indices) -> tuple:
    """``(keypoints, scores, disagreement per instance)``: the model run on the image and on its mirror image."""
    keypoints, scores = model.predict(image, bboxes)
    if len(bboxes) == 0:
        return keypoints, scores, np.zeros(0)
    width = image.shape[1]
    mirrored_kpts, _ = model.predict(np.ascontiguousarray(image[:, ::-1]), mirror_boxes(bboxes, width))
    back = np.asarray(mirrored_kpts, np.float64)[:, list(flip_indices)]
    back[..., 0] = width - 1 - back[..., 0]
    distance = np.linalg.norm(np.asarray(keypoints, np.float64) - back, axis=-1).mean(axis=1)
    boxes = np.asarray(bboxes, np.float64)
    scale = np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0))
    return keypoints, scores, distance / scale


def one_stage_disagreement(model, image: np.ndarray, flip_indices) -> tuple:
    """``(bboxes, keypoints, scores, disagreement per instance)`` of a one-stage model
    (:class:`mmpx.infer.one_stage.OneStageModel`): it finds the instances on the image and on its mirror image
    itself, so each instance is compared with the mirrored instance whose box overlaps it most (IoU >= 0.5);
    one with no such partner gets disagreement 1 (its keypoints a box size apart)."""
    bboxes, _ = model(image)
    keypoints, scores = model.predict(image, bboxes)
    disagreement = np.ones(len(bboxes))
    if len(bboxes) == 0:
        return bboxes, keypoints, scores, disagreement
    width = image.shape[1]
    mirrored = np.ascontiguousarray(image[:, ::-1])
    found, _ = model(mirrored)
    mirrored_kpts, _ = model.predict(mirrored, found)
    if len(found) == 0:
        return bboxes, keypoints, scores, disagreement
    back_boxes = mirror_boxes(found, width).astype(np.float64)
    back = np.asarray(mirrored_kpts, np.float64)[:, list(flip_indices)]
    back[..., 0] = width - 1 - back[..., 0]
    boxes = np.asarray(bboxes, np.float64)
    overlap = _iou(boxes, back_boxes)
    partner = overlap.argmax(axis=1)
    scale = np.sqrt(np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0))
    distance = np.linalg.norm(np.asarray(keypoints, np.float64) - back[partner], axis=-1).mean(axis=1) / scale
    paired = overlap[np.arange(len(boxes)), partner] >= 0.5
    disagreement[paired] = distance[paired]
    return bboxes, keypoints, scores, disagreement


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt, rb = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)
    area_a, area_b = np.prod(a[:, 2:] - a[:, :2], axis=-1), np.prod(b[:, 2:] - b[:, :2], axis=-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def describe(image: np.ndarray, keypoints: np.ndarray, bbox: np.ndarray | None) -> np.ndarray:
    """The diversity feature: thumbnail block and pose block, each of unit length. Without a box (a detector
    miss) the pose block is zeros of the same length, so that every candidate's feature has the same shape."""
    import cv2

    thumb = cv2.resize(image, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32).reshape(-1)
    thumb -= thumb.mean()
    thumb /= np.linalg.norm(thumb) + 1e-6
    if bbox is None:
        return np.concatenate([thumb, np.zeros(np.size(keypoints), np.float32)])
    x1, y1, x2, y2 = bbox
    size = np.array([max(x2 - x1, 1.0), max(y2 - y1, 1.0)])
    pose = ((np.asarray(keypoints, np.float64) - [x1, y1]) / size - 0.5).reshape(-1)
    pose /= np.linalg.norm(pose) + 1e-6
    return np.concatenate([thumb, pose.astype(np.float32)])


def score(model, boxes, image: np.ndarray, name: str, path: str, frame: int | None, flip_indices) -> Candidate:
    """Boxes, both predictions, and the least certain instance of one image."""
    if getattr(model, "one_stage", False):  # its own boxes, on the image and on its mirror
        bboxes, keypoints, scores, disagreement = one_stage_disagreement(model, image, flip_indices)
        bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
    else:
        bboxes, _ = boxes(image)
        bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
        keypoints, scores, disagreement = flip_disagreement(model, image, bboxes, flip_indices)
    candidate = Candidate(name, path, frame, instances=len(bboxes), prediction=(keypoints, scores, bboxes))
    if len(bboxes) == 0:
        candidate.feature = describe(image, np.zeros((len(flip_indices), 2)), None)
        return candidate
    confidence = np.clip(np.nan_to_num(np.asarray(scores, np.float64)), 0, 1).mean(axis=1)
    # the least certain instance: highest disagreement plus lack of confidence (both about 0-1)
    worst = int(np.argmax(disagreement + (1 - confidence)))
    candidate.disagreement = float(disagreement[worst])
    candidate.confidence = float(confidence[worst])
    candidate.feature = describe(image, keypoints[worst], bboxes[worst])
    return candidate


def combine(candidates: list[Candidate]) -> None:
    """Set each candidate's ``uncertainty``: the mean of its two signals' ranks among all candidates, scaled to
    [0, 1]. A detector miss counts as infinite disagreement and zero confidence: the misses take the top ranks,
    and each gets 1 (ties among them would otherwise share a mean rank below 1 that says nothing)."""
    if not candidates:
        return
    disagreement = [c.disagreement if c.instances else np.inf for c in candidates]
    doubt = [1 - c.confidence if c.instances else np.inf for c in candidates]
    ranks = (_rank(disagreement) + _rank(doubt)) / 2
    for c, r in zip(candidates, ranks, strict=True):
        c.uncertainty = float(r) if c.instances else 1.0


def _rank(values) -> np.ndarray:
    """Ranks scaled to [0, 1] (ties share the mean rank)."""
    values = np.asarray(values, np.float64)
    if len(values) == 1:
        return np.ones(1)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.r_[0, np.flatnonzero(ordered[1:] != ordered[:-1]) + 1]  # no inf - inf: misses are inf
    ends = np.r_[starts[1:], len(values)]
    ranks = np.empty(len(values))
    ranks[order] = np.repeat((starts + ends - 1) / 2, ends - starts)  # ties share the mean of their ranks
    return ranks / (len(values) - 1)
