"""Pairing images and instances of the two labellings, and the object size s² of each instance pair."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.evaluation.sigmas.labels import KEYPOINT_PAIR_MAX, Instance, Labels

# ---------------------------------------------------------------- pairing


def _image_key(img: dict, how: str):
    name = img.get("file_name")
    if how == "id":
        return img["id"]
    return Path(name).name if how == "base name" else name


def _keys(labels: Labels, how: str) -> dict[object, object]:
    """key -> image id; a key given twice is an error (pairing would be ambiguous)."""
    seen: dict[object, int] = {}
    for i, img in enumerate(labels.images):
        key = _image_key(img, how)
        if how != "id" and (not isinstance(img.get("file_name"), str) or not img["file_name"]):
            raise MmpxError(f"{labels.path}: images[{i}] (id {img['id']}) has no file_name to pair images by",
                            "pair by image id instead: --match-by id")
        if key in seen:
            raise MmpxError(f"{labels.path}: images[{seen[key]}] and images[{i}] both have "
                            f"{'id' if how == 'id' else 'file_name'} {key!r}: images cannot be paired by it",
                            "give each image once" + ("" if how == "id" else ", or pair by id: --match-by id"))
        seen[key] = i
    return {key: labels.images[i]["id"] for key, i in seen.items()}


def pair_images(a: Labels, b: Labels, match_by: str):
    """(how, [(image id in A, image id in B)], keys only in A, keys only in B)."""
    named = all(isinstance(img.get("file_name"), str) and img["file_name"] for img in a.images + b.images)
    how = "file_name" if match_by == "file_name" or (match_by == "auto" and named) else "id"
    keys_a, keys_b = _keys(a, how), _keys(b, how)
    if how == "file_name" and not set(keys_a) & set(keys_b):
        # two conversions of the same images often differ only in the folder part of file_name
        base_a = {Path(k).name for k in keys_a}
        base_b = {Path(k).name for k in keys_b}
        if base_a & base_b and len(base_a) == len(keys_a) and len(base_b) == len(keys_b):
            how = "base name"
            keys_a, keys_b = _keys(a, how), _keys(b, how)
    common = [k for k in keys_a if k in keys_b]
    if not common:
        sample_a, sample_b = (", ".join(repr(k) for k in list(keys)[:3]) for keys in (keys_a, keys_b))
        raise MmpxError(f"no image of {a.path} is in {b.path} (paired by {how}; e.g. {sample_a or 'none'} vs "
                        f"{sample_b or 'none'})", "give two labellings of the same images" + (
                            "; if the ids match but the file names do not, pass --match-by id"
                            if how != "id" else ""))
    only_a = [str(k) for k in keys_a if k not in keys_b]
    only_b = [str(k) for k in keys_b if k not in keys_a]
    return how, [(keys_a[k], keys_b[k]) for k in common], only_a, only_b


def _iou(p: tuple, q: tuple) -> float:
    w = min(p[0] + p[2], q[0] + q[2]) - max(p[0], q[0])
    h = min(p[1] + p[3], q[1] + q[3]) - max(p[1], q[1])
    inter = max(w, 0.0) * max(h, 0.0)
    return inter / (p[2] * p[3] + q[2] * q[3] - inter)


def _keypoint_distance(p: Instance, q: Instance) -> float | None:
    """Mean distance of the keypoints both label, over s; None when they label none in common."""
    both = p.labelled & q.labelled
    if not both.any():
        return None
    s = math.sqrt((p.scale()[0] + q.scale()[0]) / 2)
    return float(np.linalg.norm(p.xy[both] - q.xy[both], axis=1).mean()) / s


def pair_instances(a: list[Instance], b: list[Instance], iou_thr: float) -> tuple[list[tuple[int, int]], str]:
    """One-to-one pairs (index in a, index in b), greedy: best box IoU first (>= iou_thr) when every instance
    has a box, else nearest keypoints first (mean distance / s <= KEYPOINT_PAIR_MAX)."""
    if all(inst.box is not None for inst in a + b):
        how = "bbox IoU"
        scored = [(-_iou(p.box, q.box), i, j) for i, p in enumerate(a) for j, q in enumerate(b)]
        scored = [c for c in scored if -c[0] >= iou_thr]
    else:
        how = "keypoints"
        scored = [(d, i, j) for i, p in enumerate(a) for j, q in enumerate(b)
                  if (d := _keypoint_distance(p, q)) is not None and d <= KEYPOINT_PAIR_MAX]
    pairs, used_a, used_b = [], set(), set()
    for _, i, j in sorted(scored):
        if i not in used_a and j not in used_b:
            pairs.append((i, j))
            used_a.add(i)
            used_b.add(j)
    return pairs, how


def pair_scale(p: Instance, q: Instance) -> tuple[float, str]:
    """s² of a pair: the mean of both areas, or of both boxes; one of each only when nothing else is there."""
    if p.area is not None and q.area is not None:
        return (p.area + q.area) / 2, "area"
    if p.box is not None and q.box is not None:
        return (p.box[2] * p.box[3] + q.box[2] * q.box[3]) / 2, "bbox"
    return (p.scale()[0] + q.scale()[0]) / 2, "mixed"
