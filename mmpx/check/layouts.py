"""Where each MMPose dataset class reads an instance's keypoints in a COCO-style annotation, so that the checks
read the same numbers MMPose will (taken from each class's ``parse_data_info`` / ``_load_annotations`` in
mmpose 1.3).

Most classes read ``ann['keypoints']`` and ``ann['bbox']`` (``BaseCocoStyleDataset``); these do not:

- ``CocoWholeBodyDataset`` (and ``UBody2dDataset``, its subclass): one instance of 133 keypoints, the
  concatenation ``keypoints`` (17 body) + ``foot_kpts`` (6) + ``face_kpts`` (68) + ``lefthand_kpts`` (21) +
  ``righthand_kpts`` (21);
- ``CocoWholeBodyFaceDataset``: ``face_kpts`` in ``face_box``, only where ``face_valid`` and a value is > 0;
- ``CocoWholeBodyHandDataset``: up to two instances per annotation, ``lefthand_kpts`` in ``lefthand_box`` and
  ``righthand_kpts`` in ``righthand_box``, each only where its ``*_valid`` is true and a value is > 0;
- ``HumanArt21Dataset``: ``keypoints_21`` (``keypoints`` holds COCO's 17);
- ``InterHand2DDoubleDataset``, ``InterHand3DDataset``: keypoints come from separate camera/joint files.

MPII's list format (``MpiiDataset``) is recognised by its content, see :mod:`mmpx.check.mpii`. Torch-free: the
preflight looks a config's dataset class (and its bases, for a subclass) up here by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Part:
    """One instance read from an annotation: the concatenation of ``fields``, boxed by ``box``."""

    fields: tuple[str, ...] = ("keypoints",)
    box: str = "bbox"
    valid: str | None = None  # read only where ann[valid] is true and some value is > 0

    @property
    def name(self) -> str:
        return "+".join(self.fields)

    def read(self, ann: dict) -> list | str | None:
        """The keypoint values MMPose reads; the name of a missing or non-list field instead; None when MMPose
        skips this instance (``valid`` false, or nothing labelled)."""
        if self.valid is not None:
            if self.valid not in ann:
                return self.valid
            if not ann[self.valid] or not _any_positive(ann.get(self.fields[0])):
                return None
        for name in self.fields:
            if not isinstance(ann.get(name), list):
                return name
        if len(self.fields) == 1:  # most datasets: the list itself, no copy
            return ann[self.fields[0]]
        return [v for name in self.fields for v in ann[name]]


def _any_positive(values) -> bool:
    """MMPose's ``max(kpts) > 0``; a list it cannot compare counts as labelled, so its values get checked."""
    try:
        return isinstance(values, list) and bool(values) and max(values) > 0
    except TypeError:
        return True


@dataclass(frozen=True)
class Layout:
    """How a dataset class reads keypoints: one instance per part; no part when they are not in the file."""

    dataset: str
    parts: tuple[Part, ...] = (Part(),)

    @property
    def plain(self) -> bool:
        """Reads ``keypoints`` alone, as COCO does (a category's keypoint names then describe it)."""
        return self.parts == (Part(),)

    def describe(self) -> str:
        if not self.parts:
            return f"{self.dataset} reads keypoints from other files than this one: not checked"
        return f"{self.dataset} reads " + " and ".join(f"`{p.name}` in `{p.box}`" for p in self.parts)


WHOLEBODY = Layout("CocoWholeBodyDataset", (
    Part(("keypoints", "foot_kpts", "face_kpts", "lefthand_kpts", "righthand_kpts")),))
LAYOUTS = {layout.dataset: layout for layout in (
    WHOLEBODY,
    Layout("CocoWholeBodyFaceDataset", (Part(("face_kpts",), "face_box", "face_valid"),)),
    Layout("CocoWholeBodyHandDataset", (Part(("lefthand_kpts",), "lefthand_box", "lefthand_valid"),
                                        Part(("righthand_kpts",), "righthand_box", "righthand_valid"))),
    Layout("HumanArt21Dataset", (Part(("keypoints_21",)),)),
    Layout("InterHand2DDoubleDataset", ()),
    Layout("InterHand3DDataset", ()),
)}


GUESSED = ("CocoWholeBodyDataset", "CocoWholeBodyFaceDataset", "CocoWholeBodyHandDataset")


def layout_of(class_names: Iterable[str]) -> Layout | None:
    """The layout of the first of ``class_names`` (a class and then its bases, as ``__mro__`` lists them) that
    reads keypoints its own way; None when they all read ``keypoints`` as COCO does."""
    return next((LAYOUTS[n] for n in class_names if n in LAYOUTS), None)


def guess_layout(ann: dict | None, k: int) -> Layout | None:
    """For a file checked without its dataset class (``mmpx check data``): the COCO-WholeBody layout (whole body,
    face or hands) whose arrays in ``ann`` hold ``k`` keypoints, when its ``keypoints`` do not."""
    if not ann or len(ann.get("keypoints") or []) == 3 * k:
        return None
    for layout in (LAYOUTS[name] for name in GUESSED):
        if any(sum(len(ann.get(f) or []) for f in part.fields) == 3 * k for part in layout.parts):
            return layout
    return None


__all__ = ["LAYOUTS", "Layout", "Part", "guess_layout", "layout_of"]
