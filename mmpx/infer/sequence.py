"""Poses over a sequence of frames: boxes (every frame, or every N frames with tracked boxes between), crops of
several frames batched, track ids, smoothing. Shared by ``mmpx infer`` and ``PoseEstimator.run``, so both give the
same tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from mmpx.errors import MmpxError
from mmpx.infer.frames import predict_frames
from mmpx.infer.mixed import mask_scores, unpack
from mmpx.infer.smooth import OneEuroParams, Smoother
from mmpx.infer.track import PoseTracker, TrackParams


@dataclass(frozen=True)
class SequenceOptions:
    """How a video is processed.

    Args:
        track: give instances track ids (:class:`TrackParams`), or None.
        smooth: One-Euro smoothing per track and keypoint (:class:`OneEuroParams`), or None; needs ``track``.
        det_every: run the box source on every N-th frame only; between, each track's box is predicted from its
            motion. Above 1 needs ``track``.
        batch_frames: frames whose crops go through the pose model together (when ``det_every`` is 1), and frames
            detected together when the box source has a ``batch`` call (with ``det_every`` N: the first frames of
            up to ``batch_frames`` chunks of N frames, at most 16 frames read ahead).
    """

    track: TrackParams | None = None
    smooth: OneEuroParams | None = None
    det_every: int = 1
    batch_frames: int = 4

    def check(self) -> None:
        if not (isinstance(self.det_every, int) and self.det_every >= 1):
            raise MmpxError(f"det_every must be a whole number >= 1, got {self.det_every}", "e.g. --det-every 5")
        if not (isinstance(self.batch_frames, int) and self.batch_frames >= 1):
            raise MmpxError(f"batch_frames must be a whole number >= 1, got {self.batch_frames}",
                            "e.g. --batch-frames 4")
        if self.track is None and (self.smooth is not None or self.det_every > 1):
            raise MmpxError("smoothing and --det-every above 1 need track ids", "turn tracking on (--track)")
        if self.track is not None:
            self.track.check()
        if self.smooth is not None:
            self.smooth.check()


@dataclass
class FramePoses:
    """One frame's poses. ``track_ids`` is None without tracking; ``raw_keypoints`` (what the model gave) is
    set when ``keypoints`` are smoothed; ``detected`` says whether the box source ran on this frame. ``classes``
    is each instance's class (an index into a :class:`~mmpx.infer.mixed.MixedModel`'s classes) when the boxes
    are of several classes, else None; ``keypoints`` and ``scores`` are then the union, the other classes' scores
    0. ``visible`` (N, K) is a visibility head's probability that each keypoint is seen (None without one)."""

    index: int
    time: float
    image: np.ndarray = field(repr=False)
    bboxes: np.ndarray
    bbox_scores: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray | None = None
    raw_keypoints: np.ndarray | None = field(default=None, repr=False)
    detected: bool = True
    classes: np.ndarray | None = None
    visible: np.ndarray | None = field(default=None, repr=False)


Boxes = Callable[[np.ndarray], tuple]  # (xyxy, scores), or (xyxy, scores, classes) for several classes
_HELD_FRAMES = 16  # frames read ahead at most to detect the first frames of several det_every chunks together


def has_visibility(model) -> bool:
    """Whether ``model`` gives each keypoint's visibility (``has_visibility``: torch and ONNX Runtime models of
    ``--visibility`` configs). Such models are one-class, so a model cut to a class or run on boxes of several
    classes never does."""
    from mmpx.infer.classes import ClassModel
    from mmpx.infer.mixed import MixedModel

    return not isinstance(model, (ClassModel, MixedModel)) and bool(getattr(model, "has_visibility", False))


def predict_visible(model, images: list[np.ndarray], bboxes: list[np.ndarray]) -> list[tuple]:
    """One ``(keypoints, scores, visible)`` per image: :func:`~mmpx.infer.frames.predict_frames` (``visible``
    None) for a model without visibility, else ``predict_with_visibility`` image by image."""
    if not has_visibility(model):
        return [(k, s, None) for k, s in predict_frames(model, images, bboxes)]
    return [model.predict_with_visibility(image, b) for image, b in zip(images, bboxes, strict=True)]


def detect_frames(boxes: Boxes, images: list[np.ndarray]) -> list[tuple]:
    """The box source on several frames: one call of its ``batch(images)`` when it has one (an exported detector
    runs them in one ONNX Runtime session run), else frame by frame; the same boxes either way."""
    batch = getattr(boxes, "batch", None)
    if callable(batch) and len(images) > 1:
        return list(batch(images))
    return [boxes(image) for image in images]


def sequence_poses(frames: Iterable[np.ndarray], model, boxes: Boxes, options: SequenceOptions | None = None,
                   fps: float = 25.0) -> Iterator[FramePoses]:
    """Poses for every frame of ``frames`` (one video, in order), as options say.

    Args:
        frames: BGR images (e.g. a :class:`mmpx.infer.frames.FrameReader`).
        model: a pose model (``predict(image, xyxy)``; batched when it can be).
        boxes: ``image -> (xyxy (M, 4), scores (M,))``.
        options: :class:`SequenceOptions` (default: boxes every frame, no tracking).
        fps: frames per second (the ``time`` of frame i is i / fps).
    """
    options = options or SequenceOptions()
    options.check()
    tracker = PoseTracker(options.track) if options.track is not None else None
    smoother = Smoother(options.smooth) if options.smooth is not None else None
    it = iter(frames)
    index = 0

    class_of: dict[int, int] = {}  # track id -> class (several classes): boxes between detections keep it

    def finish(i: int, image, bboxes, bbox_scores, keypoints, scores, detected: bool, classes=None,
               visible=None) -> FramePoses:
        pose = FramePoses(i, i / fps, image, np.asarray(bboxes, np.float32).reshape(-1, 4),
                          np.asarray(bbox_scores, np.float32).reshape(-1), np.asarray(keypoints),
                          mask_scores(model, np.asarray(scores), classes), detected=detected, classes=classes,
                          visible=visible)
        if tracker is not None:  # with classes, a track only ever matches boxes of its class
            pose.track_ids = tracker.update(pose.bboxes, pose.keypoints, pose.scores, classes)
            if classes is not None:
                class_of.update(zip(pose.track_ids.tolist(), classes.tolist(), strict=True))
        if smoother is not None:
            pose.raw_keypoints = pose.keypoints
            pose.keypoints = smoother(pose.time, pose.track_ids, pose.keypoints)
        return pose

    def tracked_chunk(chunk, found) -> Iterator[FramePoses]:
        """The chunk's first frame with the box source's boxes; its tracks' predicted boxes (and classes) on the
        others, in one batch."""
        nonlocal index
        b, s, c = unpack(found)
        if has_visibility(model):
            k, sc, v = model.predict_with_visibility(chunk[0], b)
        else:
            (k, sc), v = model.predict(chunk[0], b), None
        first = finish(index, chunk[0], b, s, k, sc, True, c, v)
        yield first
        index += 1
        if len(chunk) == 1:
            return
        score_of = dict(zip(first.track_ids.tolist(), first.bbox_scores.tolist(), strict=True))
        planned = []
        for step_ahead in range(1, len(chunk)):
            ids, planned_boxes = tracker.predicted_boxes(step_ahead)
            h, w = chunk[step_ahead].shape[:2]
            planned_boxes = np.clip(planned_boxes, 0, [w, h, w, h]).astype(np.float32)
            keep = (planned_boxes[:, 2] - planned_boxes[:, 0] >= 1) & (planned_boxes[:, 3] - planned_boxes[:, 1] >= 1)
            planned.append((planned_boxes[keep], np.array([score_of.get(t, 0.0) for t in ids[keep]], np.float32),
                            None if c is None else np.array([class_of[t] for t in ids[keep]], np.int64)))
        preds = predict_visible(model, chunk[1:], [p[0] for p in planned])
        for image, (pb, ps, pc), (k, sc, v) in zip(chunk[1:], planned, preds, strict=True):
            yield finish(index, image, pb, ps, k, sc, False, pc, v)
            index += 1

    if options.det_every == 1:
        while chunk := list(islice(it, options.batch_frames)):
            found = [unpack(f) for f in detect_frames(boxes, chunk)]
            preds = predict_visible(model, chunk, [f[0] for f in found])
            for image, (b, s, c), (k, sc, v) in zip(chunk, found, preds, strict=True):
                yield finish(index, image, b, s, k, sc, True, c, v)
                index += 1
        return
    # chunks of det_every frames; with a batch call, up to batch_frames chunks are read at once so that their first
    # frames (the ones detected) go through the box source together. At most 16 frames (or one chunk) are held, so
    # that a long det_every on a large video does not hold many frames in memory
    group = min(options.batch_frames, max(1, _HELD_FRAMES // options.det_every))
    if not callable(getattr(boxes, "batch", None)):
        group = 1
    while chunks := [c for c in (list(islice(it, options.det_every)) for _ in range(group)) if c]:
        for chunk, found in zip(chunks, detect_frames(boxes, [c[0] for c in chunks]), strict=True):
            yield from tracked_chunk(chunk, found)
        if len(chunks[-1]) < options.det_every:
            return


__all__ = ["FramePoses", "SequenceOptions", "detect_frames", "has_visibility", "predict_visible", "sequence_poses"]
