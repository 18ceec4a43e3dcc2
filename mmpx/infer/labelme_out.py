"""``mmpx infer --save-labelme DIR``: one labelme file per image or video frame, beside a copy of its image, so
DIR opens in labelme as it is (Open Dir) and ``mmpx convert labelme DIR`` reads the corrected files back.

Images keep their relative names (``DIR/sub/a.jpg`` + ``DIR/sub/a.json``); a video's frames become
``DIR/<video name>/frame_000123.jpg`` + ``.json``. Nothing in DIR is ever replaced: a labelme file there may
hold a person's corrections, so existing targets are refused before any work (:meth:`LabelmeSink.check`).

From a model with a visibility head every point also has the shape flag ``occluded`` (labelme shows it as a
check box when the point is edited), ticked where the head says the point is hidden (probability seen under 0.5),
and its description says the probability: ``mmpx convert labelme`` reads a ticked point as hidden (COCO v=1), so
the model's call and the reviewer's correction both reach the data (:func:`mark_hidden`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import numpy as np

from mmpx.atomic import write_bytes, write_json
from mmpx.convert.labelme_write import prelabel
from mmpx.errors import MmpxError
from mmpx.infer.inputs import Source

FRAME_NAME = "frame_{:06d}"
OCCLUDED_FLAG = "occluded"  # the shape flag mmpx convert labelme reads as a hidden point (COCO v=1)
HIDDEN_BELOW = 0.5  # a point whose probability of being seen is under this is flagged occluded


def frame_folder(src: Source) -> str:
    """The folder (relative to DIR) of a video's frames: its relative name without the extension."""
    return PurePosixPath(src.name).with_suffix("").as_posix()


class LabelmeSink:
    """Writes pre-labels; ``names`` are the model's keypoint names in order."""

    def __init__(self, folder: str | os.PathLike, names: Sequence[str], label: str = "object",
                 kpt_thr: float = 0.3, source: str = "mmpx") -> None:
        self.folder = Path(folder)
        self.names = [str(n) for n in names]
        self.label, self.kpt_thr, self.source = label, kpt_thr, source
        self.files = 0

    def check(self, sources: Sequence[Source]) -> None:
        """Refuse, before any work, a target that exists: a labelme file there may hold corrections."""
        for src in sources:
            if src.kind == "image":
                targets = [self.folder / src.name, self.folder / PurePosixPath(src.name).with_suffix(".json")]
            else:
                targets = [self.folder / frame_folder(src)]
            for target in targets:
                if target.exists() and not (target.is_dir() and not any(target.iterdir())):
                    raise MmpxError(
                        f"--save-labelme: {target} already exists; it may hold corrections, so mmpx does not "
                        "replace it", "give a new folder, or move the old pre-labels away first")

    def image(self, src: Source, image: np.ndarray, keypoints, scores, bboxes, classes=None, *,
              visible=None) -> None:
        """The pre-label of an image file, beside a copy (a hard link where possible) of the file itself;
        ``classes`` as :func:`instances_prelabel` takes them (boxes of several classes), else None; ``visible``
        (N, K) a visibility head's probabilities (:func:`mark_hidden`), or None."""
        target = self.folder / src.name
        target.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(src.path, target)
        self._write(target, image, keypoints, scores, bboxes, classes, visible)

    def frame(self, src: Source, index: int, image: np.ndarray, keypoints, scores, bboxes, classes=None, *,
              visible=None) -> None:
        """The pre-label of a video frame, beside the frame written as JPEG (quality 95)."""
        import cv2

        target = self.folder / frame_folder(src) / f"{FRAME_NAME.format(index)}.jpg"
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
        if not ok:
            raise MmpxError(f"could not encode frame {index} of {src.path} as JPEG")
        write_bytes(target, encoded.tobytes())
        self._write(target, image, keypoints, scores, bboxes, classes, visible)

    def _write(self, image_file: Path, image: np.ndarray, keypoints, scores, bboxes, classes=None,
               visible=None) -> None:
        height, width = image.shape[:2]
        if classes is None:
            doc = mark_hidden(prelabel(image_file.name, width, height, keypoints, scores, bboxes, self.names,
                                       self.label, self.kpt_thr, self.source), visible, self.names)
        else:
            doc = instances_prelabel(image_file.name, width, height, keypoints, scores, bboxes, classes,
                                     self.kpt_thr, self.source)
        write_json(image_file.with_suffix(".json"), doc, indent=1)
        self.files += 1


def instances_prelabel(image_path: str, width: int, height: int, keypoints, scores, bboxes,
                       classes: Sequence[tuple[str, Sequence[str]]], kpt_thr: float = 0.3,
                       source: str = "mmpx") -> dict:
    """The labelme document of instances of several classes: ``keypoints[i]`` (K_i, 2) and ``scores[i]`` (K_i,)
    are instance i's own, ``classes[i]`` its (class name, keypoint names); each instance a rectangle labelled with
    its class and its points (group ids 1, 2, ... in order), what ``mmpx convert labelme --classes`` reads."""
    doc = prelabel(image_path, width, height, np.zeros((0, 0, 2)), np.zeros((0, 0)), np.zeros((0, 4)), [],
                   "object", kpt_thr, source)
    for group, (kpts, kscores, box, (label, names)) in enumerate(zip(keypoints, scores, bboxes, classes,
                                                                       strict=True), start=1):
        one = prelabel(image_path, width, height, np.asarray(kpts)[None], np.asarray(kscores)[None],
                       np.asarray(box)[None], names, label, kpt_thr, source)
        for shape in one["shapes"]:
            shape["group_id"] = group
        doc["shapes"] += one["shapes"]
        doc["flags"] = {k: bool(v or one["flags"].get(k)) for k, v in doc["flags"].items()}
    return doc


def mark_hidden(doc: dict, visible, names: Sequence[str]) -> dict:
    """A one-class pre-label (:func:`~mmpx.convert.labelme_write.prelabel`'s: instance i's shapes have group id
    i + 1) with a visibility head's probabilities ``visible`` (N, K): each point gets the flag ``occluded``, true
    where the probability is under 0.5, and ``visible 0.12`` after its score in the description. Changes ``doc``
    in place and returns it; with ``visible`` None it stays as it is."""
    if visible is None:
        return doc
    visible = np.asarray(visible, np.float64).reshape(-1, len(names))
    column = {str(n): k for k, n in enumerate(names)}
    for shape in doc["shapes"]:
        if shape.get("shape_type") != "point" or shape.get("label") not in column:
            continue
        p = float(visible[int(shape["group_id"]) - 1, column[shape["label"]]])
        p = p if np.isfinite(p) else 0.0
        shape["flags"][OCCLUDED_FLAG] = bool(p < HIDDEN_BELOW)
        shape["description"] += f", visible {p:.2f}"
    return doc


def _link_or_copy(src: Path, target: Path) -> None:
    """A hard link (no copy, no space) where the file system allows it, else a copy; placed atomically. Not
    through atomic_path: its chmod would change the mode of the user's own file through the link."""
    import secrets

    from mmpx.atomic import tmp_name

    tmp = target.with_name(f"{tmp_name(target.name)}{secrets.token_hex(4)}{target.suffix}")
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
