"""Several classes in one run: each box takes its class from the detector's label, matched by name to the classes
of a multi-class pose model, and each instance keeps only its class's block of the union.

A multi-class model predicts the union of its classes' keypoints for every box, so one forward pass serves the
boxes of every class: :class:`MixedModel` is the union model as it answers for such boxes (its predictions are
the union), :class:`ClassBoxes` wraps a detector that gives labels (``labelled(image, cat_ids)``: the exported
detector's :class:`~mmpx.runtime.det.OnnxBoxes`, the mmdet one) and returns ``(xyxy, scores, classes)`` with
``classes`` the index of each box's pose class; a detector class that is no pose class is dropped and counted.
The frame's arrays stay (N, K_union) while boxes, tracks and smoothing need one shape (the other classes'
scores set to 0, :func:`mask_scores`); the outputs cut each instance to its class with :func:`cut_instances`
and :func:`class_meta`'s per-class metainfo (records, drawings, pre-labels, tables). :func:`for_boxes` decides
between this and one class for every box (``--class``, :func:`mmpx.infer.classes.for_class`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmpx.errors import MmpxError
from mmpx.infer.classes import class_meta, for_class, model_classes
from mmpx.metainfo.classes import KeypointClass


class MixedModel:
    """A multi-class pose model run on boxes of several classes: ``predict`` and ``predict_frames`` give the
    union (N, K_union); ``classes`` are the model's classes and ``metas`` their cut metainfo, in order."""

    def __init__(self, model, classes: Sequence[KeypointClass]) -> None:
        self.model, self.classes = model, list(classes)
        self.metas = [class_meta(model.dataset_meta, c) for c in self.classes]
        self.dataset_meta = model.dataset_meta

    def __getattr__(self, name):  # input_size, flip_test, ...
        return getattr(self.__dict__["model"], name)

    def predict(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        return self.model.predict(image_bgr, bboxes)

    def predict_frames(self, images, bboxes):
        from mmpx.infer.frames import predict_frames  # the model's own batching (ONNX Runtime, torch)

        return predict_frames(self.model, images, bboxes)


class ClassBoxes:
    """A labelling detector's boxes, each with its pose class: ``image -> (xyxy (M, 4), scores (M,), classes
    (M,))``, ``classes`` indexing the pose model's classes. The detector's classes are matched by name;
    ``cat_ids`` (0-based detector labels, None: all) filters first. ``dropped`` counts the boxes of detector
    classes that are no pose class, by name."""

    def __init__(self, source, classes: Sequence[KeypointClass], cat_ids: Sequence[int] | None = None) -> None:
        self.source, self.name = source, source.name
        self.cat_ids = None if cat_ids is None else [int(c) for c in cat_ids]
        index = {c.name: i for i, c in enumerate(classes)}
        self.detector_classes = [str(c) for c in source.classes]
        self.to_class = np.array([index.get(n, -1) for n in self.detector_classes], np.int64)
        self.dropped: dict[str, int] = {}
        if callable(getattr(source, "batch_labelled", None)):
            self.batch = self._batch

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self._map(*self.source.labelled(image_bgr, self.cat_ids))

    def _batch(self, images_bgr) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        return [self._map(*found) for found in self.source.batch_labelled(images_bgr, self.cat_ids)]

    def _map(self, boxes, scores, labels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        labels = np.asarray(labels, np.int64).reshape(-1)
        known = (labels >= 0) & (labels < len(self.to_class))
        classes = np.where(known, self.to_class[np.clip(labels, 0, max(len(self.to_class) - 1, 0))], -1)
        for label in labels[classes < 0].tolist():
            name = self.detector_classes[label] if 0 <= label < len(self.detector_classes) else f"label {label}"
            self.dropped[name] = self.dropped.get(name, 0) + 1
        keep = classes >= 0
        return (np.asarray(boxes, np.float32).reshape(-1, 4)[keep], np.asarray(scores, np.float32).reshape(-1)[keep],
                classes[keep])


def for_boxes(model, boxes, class_name: str | None = None, cat_ids: Sequence[int] | None = None,
              option: str = "--class"):
    """The pose model and box source as they answer together: several classes in one run (a
    :class:`MixedModel` and :class:`ClassBoxes`) for a multi-class model without ``class_name`` whose detector
    has class names, at least one of them a pose class; else :func:`~mmpx.infer.classes.for_class`'s rules
    (one class for every box) and the boxes as they are.

    Raises:
        MmpxError: a detector none of whose classes is a pose class (and no ``class_name``); and
            :func:`~mmpx.infer.classes.choose_class`'s errors.
    """
    classes = model_classes(model.dataset_meta)
    detector = [str(c) for c in (getattr(boxes, "classes", None) or [])]
    if classes is None or class_name is not None or not detector or not callable(getattr(boxes, "labelled", None)):
        return for_class(model, class_name, option), boxes
    names = [c.name for c in classes]
    if not set(names) & set(detector):
        shown = ", ".join(detector[:8]) + (", ..." if len(detector) > 8 else "")
        given = f"{option} NAME" if option.startswith("-") else f"{option}='NAME'"
        raise MmpxError(f"the model has {len(classes)} classes ({', '.join(names)}) and the detector {boxes.name} "
                        f"has none of them ({shown}): say which class the boxes are with {given}",
                        "a detector whose class names are the pose model's gives each box its class; else "
                        "docs/guides/multiclass.md")
    return MixedModel(model, classes), ClassBoxes(boxes, classes, cat_ids)


def unpack(found) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A box source's answer: ``(xyxy, scores)``, or ``(xyxy, scores, classes)`` for several classes."""
    if len(found) == 3:
        return found[0], found[1], np.asarray(found[2], np.int64).reshape(-1)
    return found[0], found[1], None


def mask_scores(model, scores: np.ndarray, classes: np.ndarray | None) -> np.ndarray:
    """The union's scores with every keypoint outside each instance's class set to 0 (a copy), so that tracking
    trusts the instance's own keypoints only; as they are for one class."""
    if classes is None or not isinstance(model, MixedModel):
        return scores
    out = np.zeros_like(np.asarray(scores))
    for i, c in enumerate(np.asarray(classes).tolist()):
        cls = model.classes[c]
        out[i, cls.start:cls.stop] = scores[i, cls.start:cls.stop]
    return out


def cut_instances(model, keypoints, scores, classes: np.ndarray | None, raw=None):
    """Each instance cut to its class: lists of (K_i, 2) keypoints, (K_i,) scores, its class's metainfo (and
    raw keypoints, None each without them)."""
    out_k, out_s, metas, out_r = [], [], [], []
    for i, c in enumerate(np.asarray(classes).tolist()):
        cls = model.classes[c]
        out_k.append(np.ascontiguousarray(keypoints[i, cls.start:cls.stop]))
        out_s.append(np.ascontiguousarray(scores[i, cls.start:cls.stop]))
        out_r.append(None if raw is None else np.ascontiguousarray(raw[i, cls.start:cls.stop]))
        metas.append(model.metas[c])
    return out_k, out_s, metas, out_r


def frame_records(image_id: int, name: str, model, keypoints, scores, bboxes, bbox_scores,
                  classes: np.ndarray | None) -> list[dict]:
    """The COCO records of one image's instances: each with its class's ``category_id``, ``category`` and own
    keypoints (several classes), or the model's (one class)."""
    from mmpx.infer.classes import instance_class
    from mmpx.infer.results import instance_records

    if classes is None:
        return instance_records(image_id, name, keypoints, scores, bboxes, bbox_scores,
                                *instance_class(model.dataset_meta))
    records = []
    kpts, kscores, metas, _ = cut_instances(model, keypoints, scores, classes)
    for i, (k, s, meta) in enumerate(zip(kpts, kscores, metas, strict=True)):
        records += instance_records(image_id, name, k[None], s[None], np.asarray(bboxes)[i:i + 1],
                                    np.asarray(bbox_scores)[i:i + 1], *instance_class(meta))
    return records


def draw_instances(image: np.ndarray, keypoints, scores, model, classes: np.ndarray | None, *, bboxes=None,
                   **options) -> np.ndarray:
    """The instances drawn on a copy of ``image``, each with its class's skeleton and colours
    (:func:`mmpx.visual.draw.draw_pose`'s ``options``)."""
    from mmpx.visual.draw import draw_pose

    if classes is None:
        return draw_pose(image, keypoints, scores, model.dataset_meta, bboxes=bboxes, **options)
    drawn = np.array(image, copy=True)
    classes = np.asarray(classes)
    for c in dict.fromkeys(classes.tolist()):
        rows, cls = np.flatnonzero(classes == c), model.classes[c]
        drawn = draw_pose(drawn, np.asarray(keypoints)[rows, cls.start:cls.stop],
                          np.asarray(scores)[rows, cls.start:cls.stop], model.metas[c],
                          bboxes=None if bboxes is None else np.asarray(bboxes)[rows], **options)
    return drawn


def dropped_line(dropped: dict[str, int]) -> str | None:
    """The summary line for the boxes of detector classes that are no pose class; None when there were none."""
    if not dropped:
        return None
    parts = ", ".join(f"{n} {name}" for name, n in sorted(dropped.items(), key=lambda kv: -kv[1]))
    return f"dropped {sum(dropped.values())} box(es) of detector classes the pose model does not have: {parts}"


__all__ = ["ClassBoxes", "MixedModel", "cut_instances", "draw_instances", "dropped_line", "for_boxes",
           "frame_records", "mask_scores", "unpack"]
