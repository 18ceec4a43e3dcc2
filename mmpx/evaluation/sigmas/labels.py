"""Reading and checking the two COCO keypoint files: one :class:`Labels` each, and their keypoint names."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError

# without boxes, instances are paired by mean keypoint distance / s; beyond this they are different objects
KEYPOINT_PAIR_MAX = 0.5


@dataclass
class Instance:
    ann_id: object
    xy: np.ndarray  # (K, 2)
    labelled: np.ndarray  # (K,) bool: v > 0
    area: float | None
    box: tuple[float, float, float, float] | None  # x, y, w, h with w, h > 0

    def scale(self) -> tuple[float, str]:
        return (self.area, "area") if self.area is not None else (self.box[2] * self.box[3], "bbox")


@dataclass
class Labels:
    """One COCO keypoint file, reduced to what pairing needs."""

    path: Path
    names: list[str]
    images: list[dict]  # the file's image entries that are dicts with an id
    instances: dict[object, list[Instance]]  # image id -> instances with a labelled keypoint
    ignored: int  # crowd annotations and those without a labelled keypoint


# ---------------------------------------------------------------- reading


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise MmpxError(f"{what} file {path} does not exist", "give the path of a COCO keypoint .json file")
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MmpxError(f"{path}: not valid JSON ({exc})", "check the file is complete (not truncated)") from None


def number(value) -> float | None:
    """A finite float, or None for anything else (bools, strings, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _category(data: dict, path: Path, category_id) -> dict:
    from mmpx.metainfo.build import keypoint_category

    cat = keypoint_category(data, path, category_id)
    if not all(isinstance(n, str) for n in cat["keypoints"]):
        raise MmpxError(f"{path}: category {cat.get('id')} keypoints must be a list of names",
                        'e.g. "keypoints": ["nose", "left_eye", ...]')
    return cat


def _instance(ann: dict, i: int, k: int, path: Path) -> Instance | None:
    """The annotation as an :class:`Instance`; None when it has no labelled keypoint."""
    where = f"{path}: annotations[{i}] (id {ann.get('id')})"
    raw = ann.get("keypoints")
    values = [number(v) for v in raw] if isinstance(raw, list) else None
    if values is None or len(values) != 3 * k or None in values:
        what = (f"{len(raw)} values" if isinstance(raw, list) and len(raw) != 3 * k
                else "a value that is not a finite number" if isinstance(raw, list) else repr(raw)[:40])
        raise MmpxError(f"{where}: keypoints has {what}, expected {3 * k} numbers ({k} keypoints x 3)",
                        "each annotation lists x, y, v for every keypoint of its category")
    kp = np.asarray(values, dtype=np.float64).reshape(k, 3)
    labelled = kp[:, 2] > 0
    if not labelled.any():
        return None
    box = None
    if "bbox" in ann:
        b = ann["bbox"]
        nums = [number(v) for v in b] if isinstance(b, list) and len(b) == 4 else None
        if nums is not None and None not in nums and nums[2] > 0 and nums[3] > 0:
            box = tuple(nums)
        elif "area" not in ann:
            raise MmpxError(f"{where}: bbox is {str(b)[:60]}, not [x, y, w, h] with w, h > 0, and there is no "
                            "area to take the object's size from", "fix the box, or add the COCO `area` field")
    area = None
    if "area" in ann:
        area = number(ann["area"])
        if area is None or area <= 0:
            raise MmpxError(f"{where}: area is {ann['area']!r}; OKS needs the object's area in pixels² (> 0)",
                            "fix the field (COCO's segmentation area, or the box's w·h), or drop it to use "
                            "the bbox")
    if area is None and box is None:
        raise MmpxError(f"{where}: neither area nor bbox: the object's size is unknown",
                        "add the COCO `area` (or `bbox`) field")
    return Instance(ann.get("id"), kp[:, :2], labelled, area, box)


def read_labels(path: str | Path, category_id: int | None = None) -> Labels:
    """Read one labelling: a COCO keypoint file. Crowd annotations and those without a labelled keypoint are
    ignored (counted).

    Raises:
        MmpxError: missing or non-JSON file, not COCO, no keypoint category, bad keypoints/area/bbox, an
            annotation of an unknown image.
    """
    path = Path(path)
    data = _read_json(path, "annotation")
    if not isinstance(data, dict) or not all(isinstance(data.get(key), list)
                                             for key in ("images", "annotations", "categories")):
        raise MmpxError(f"{path}: not a COCO annotation file (needs lists images, annotations, categories)",
                        "give a COCO keypoint .json, e.g. made by `mmpx convert labelme`")
    from mmpx.check.coco import first_bad_id

    if (bad := first_bad_id(data)) is not None:
        raise MmpxError(f"{path}: {bad}", f"fix the ids; `mmpx check data {path}` lists every problem")
    cat = _category(data, path, category_id)
    names = list(cat["keypoints"])
    images = [img for img in data["images"] if isinstance(img, dict) and "id" in img]
    known = {img["id"] for img in images}
    if len(known) != len(images):
        twice = next(img["id"] for i, img in enumerate(images) if any(o["id"] == img["id"] for o in images[:i]))
        raise MmpxError(f"{path}: two images have id {twice!r}", "give every image its own id")
    instances: dict[object, list[Instance]] = {}
    ignored = 0
    for i, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict):
            raise MmpxError(f"{path}: annotations[{i}] is not an object", "each annotation is a JSON object")
        if ann.get("category_id", cat.get("id")) != cat.get("id"):
            continue
        if ann.get("iscrowd"):
            ignored += 1
            continue
        inst = _instance(ann, i, len(names), path)
        if inst is None:
            ignored += 1
            continue
        if ann.get("image_id") not in known:
            raise MmpxError(f"{path}: annotations[{i}] (id {ann.get('id')}) has image_id {ann.get('image_id')!r}, "
                            "which no image has", "fix the image_id, or add the image")
        instances.setdefault(ann["image_id"], []).append(inst)
    return Labels(path, names, images, instances, ignored)


def check_names(names_a: Sequence[str], names_b: Sequence[str], file_a, file_b) -> None:
    """Raise :class:`MmpxError` unless both keypoint lists are the same names in the same order."""
    names_a, names_b = list(names_a), list(names_b)
    if names_a == names_b:
        return
    only_a = [n for n in names_a if n not in names_b]
    only_b = [n for n in names_b if n not in names_a]
    if only_a or only_b:
        parts = [f"{file_a} alone has {', '.join(only_a)}" if only_a else "",
                 f"{file_b} alone has {', '.join(only_b)}" if only_b else ""]
        what = "; ".join(p for p in parts if p)
    else:
        i = next(i for i, (a, b) in enumerate(zip(names_a, names_b, strict=True)) if a != b)
        what = f"same names in another order: keypoint {i} is {names_a[i]!r} in {file_a}, {names_b[i]!r} in {file_b}"
    raise MmpxError(f"the keypoint lists differ: {what}",
                    "both labellings (and the metainfo) must use the same keypoints in the same order")
