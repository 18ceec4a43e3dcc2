"""Inference with a multi-class model: each instance keeps only its class's block of the union.

A multi-class model predicts the union of its classes' keypoints for every box; its ``dataset_meta`` carries
``classes`` (``id``, ``name``, own ``keypoints``; the torch path reads them from the checkpoint or the config's
metainfo file, the ONNX path from the sidecar). This is the one place that cuts the union to a class:
:class:`ClassModel` wraps any pose model (torch, ONNX Runtime) so that its predictions, heatmaps and
``dataset_meta`` are those of one class (own names, skeleton, colours, flip indices within the block), so every
output (COCO records with the class's ``category_id``, tables, drawings, labelme pre-labels, sleap-io files)
holds that class's keypoints and never another's. :func:`choose_class` applies the ``--class`` rules: required
for a multi-class model whose boxes have no class of their own, refused for a one-class one. Boxes of several
classes in one run (each its detector label's class) are :mod:`mmpx.infer.mixed`'s, with the same cut.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from mmpx.errors import MmpxError
from mmpx.metainfo.classes import KeypointClass, keypoint_classes


def model_classes(meta: Mapping, where: str = "model") -> list[KeypointClass] | None:
    """The classes of a model's parsed ``dataset_meta`` (MMPose's ``keypoint_id2name`` form, or a metainfo file's
    ``keypoint_info`` form), checked against its keypoint names; None for a one-class model.

    Raises:
        MmpxError: ``classes`` malformed, or not the model's keypoints class after class.
    """
    if not meta or meta.get("classes") is None:
        return None
    if "keypoint_info" in meta:
        return keypoint_classes(meta, where)
    id2name = meta.get("keypoint_id2name") or {}
    count = int(meta.get("num_keypoints", len(id2name)))
    names = [str(id2name.get(i, id2name.get(str(i), f"kpt_{i}"))) for i in range(count)]
    info = dict(classes=meta["classes"], keypoint_info={i: dict(name=n, id=i) for i, n in enumerate(names)})
    return keypoint_classes(info, where)


def choose_class(meta: Mapping, class_name: str | None, option: str = "--class") -> KeypointClass | None:
    """The class every instance gets (boxes without a class of their own: the whole image, given boxes, a
    detector's boxes), by ``class_name``; None for a one-class model without one.

    Raises:
        MmpxError: a multi-class model without ``class_name``, one not among its classes, or ``class_name`` for
            a one-class model.
    """
    classes = model_classes(meta)

    def given(value: str) -> str:  # --class car, or class_name='car'
        return f"{option} {value}" if option.startswith("-") else f"{option}={value!r}"

    if classes is None:
        if class_name is not None:
            raise MmpxError(f"{given(class_name)}: the model has one class (its keypoints are "
                            f"{meta.get('dataset_name', 'one skeleton')!r}); {option} is for multi-class models",
                            f"leave out {option}")
        return None
    names = ", ".join(c.name for c in classes)
    if class_name is None:
        raise MmpxError(f"the model has {len(classes)} classes ({names}): say which class the boxes are with "
                        f"{given('NAME')}", f"e.g. {given(classes[0].name)} (each instance gets that class's "
                        "keypoints only; docs/guides/multiclass.md)")
    for c in classes:
        if c.name == class_name:
            return c
    raise MmpxError(f"{given(class_name)}: not a class of the model ({names})", f"pass one of: {names}")


def class_meta(meta: Mapping, cls: KeypointClass) -> dict:
    """The model's parsed ``dataset_meta`` cut to ``cls``'s block: its own keypoint names, skeleton links and
    colours, flip indices and pairs, sigmas and weights, re-indexed from 0; plus ``class_id`` and ``class_name``
    (what the records and tables name)."""
    s, e = cls.start, cls.stop
    out = {k: v for k, v in meta.items() if k != "classes"}
    out.update(dataset_name=cls.name, num_keypoints=e - s, class_id=cls.id, class_name=cls.name,
               keypoint_id2name=dict(enumerate(cls.keypoints)),
               keypoint_name2id={n: i for i, n in enumerate(cls.keypoints)})
    if meta.get("flip_indices") is not None:
        flip = [int(v) for v in list(meta["flip_indices"])[s:e]]
        out["flip_indices"] = [v - s if s <= v < e else i for i, v in enumerate(flip)]
    if meta.get("flip_pairs") is not None:
        out["flip_pairs"] = [(a - s, b - s) for a, b in meta["flip_pairs"] if s <= a < e and s <= b < e]
    for key in ("upper_body_ids", "lower_body_ids"):
        if meta.get(key) is not None:
            out[key] = [int(v) - s for v in meta[key] if s <= int(v) < e]
    for key in ("keypoint_colors", "dataset_keypoint_weights", "sigmas"):
        if meta.get(key) is not None and len(meta[key]) >= e:
            out[key] = meta[key][s:e]
    links = list(meta.get("skeleton_links") or [])
    kept = [i for i, (a, b) in enumerate(links) if s <= a < e and s <= b < e]
    out["skeleton_links"] = [(int(links[i][0]) - s, int(links[i][1]) - s) for i in kept]
    out["num_skeleton_links"] = len(kept)
    colors = meta.get("skeleton_link_colors")
    if colors is not None and len(colors) == len(links):
        out["skeleton_link_colors"] = np.asarray(colors)[kept] if isinstance(colors, np.ndarray) else \
            [colors[i] for i in kept]
    return out


def instance_class(meta: Mapping) -> tuple[int, str | None]:
    """The ``category_id`` and class name of a model's instances: a class-cut meta's, else 1 and None."""
    return int(meta.get("class_id", 1)), meta.get("class_name")


class ClassModel:
    """A pose model whose every prediction is one class's block: ``predict``, ``predict_with_heatmaps`` (when the
    model has it) and ``predict_frames`` return (N, K_class, 2) keypoints and (N, K_class) scores; other
    attributes are the model's."""

    def __init__(self, model, cls: KeypointClass) -> None:
        self.model, self.cls = model, cls
        self.dataset_meta = class_meta(model.dataset_meta, cls)
        self.num_keypoints = len(cls.keypoints)
        if hasattr(model, "predict_with_heatmaps"):
            self.predict_with_heatmaps = self._predict_with_heatmaps

    def __getattr__(self, name):  # input_size, flip_test, ...
        return getattr(self.__dict__["model"], name)

    def _cut(self, keypoints, scores):
        s, e = self.cls.start, self.cls.stop
        return np.ascontiguousarray(keypoints[:, s:e]), np.ascontiguousarray(scores[:, s:e])

    def predict(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        return self._cut(*self.model.predict(image_bgr, bboxes))

    def _predict_with_heatmaps(self, image_bgr: np.ndarray, bboxes: np.ndarray):
        keypoints, scores, maps = self.model.predict_with_heatmaps(image_bgr, bboxes)
        if maps is not None:
            maps = maps[self.cls.start:self.cls.stop]
        return (*self._cut(keypoints, scores), maps)

    def predict_frames(self, images, bboxes):
        from mmpx.infer.frames import predict_frames  # the model's own batching (ONNX Runtime, torch)

        return [self._cut(k, s) for k, s in predict_frames(self.model, images, bboxes)]


def for_class(model, class_name: str | None, option: str = "--class"):
    """``model`` as it answers for ``class_name`` (:func:`choose_class`'s rules): a :class:`ClassModel`, or the
    model itself for a one-class model."""
    if isinstance(model, ClassModel):
        model = model.model
    cls = choose_class(model.dataset_meta, class_name, option)
    return model if cls is None else ClassModel(model, cls)


__all__ = ["ClassModel", "choose_class", "class_meta", "for_class", "instance_class", "model_classes"]
