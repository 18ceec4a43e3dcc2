"""OKS sigmas estimated from images labelled twice, and written into an MMPose metainfo file.

COCO defines the sigma of keypoint i by sigma_i^2 = E[d_i^2 / s^2]: d_i is one annotation's distance from the
truth (pixels), s^2 the object's area. The truth is unknown, but two independent labellings A and B of the
same images are: their mutual distance has twice the variance of either, E[d_AB^2 / s^2] = 2 sigma_i^2, so
sigma_i = sqrt(mean(d_AB^2 / s^2) / 2).

Pure Python + numpy (no torch): ``mmpx metainfo sigmas`` starts fast.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError

__all__ = [
    "KeypointSigma", "SigmaEstimate", "ap_under_sigmas", "check_names", "default_sigmas", "estimate_sigmas",
    "read_labels", "sigmas_text", "write_sigmas",
]

MATCH_BY = ("auto", "file_name", "id")
# two labels of one keypoint more than half the object's size apart (d > s/2) are a slip or a left/right swap,
# not labelling noise (for sigma 0.1 the chance is e^-12.5); they are kept (COCO's definition has no cut-off)
# but counted, so the user can look
FAR = 0.5
# without boxes, instances are paired by mean keypoint distance / s; beyond this they are different objects
KEYPOINT_PAIR_MAX = 0.5
DECIMALS = 4  # sigmas are written rounded: 0.0001 is far below any interval from a few hundred pairs


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


@dataclass
class KeypointSigma:
    name: str
    pairs: int
    estimate: float | None  # None without pairs
    low: float | None  # confidence interval of the estimate (None with fewer than 2 pairs)
    high: float | None
    old: float
    far: int  # pairs whose two labels are more than FAR·s apart
    used: bool  # enough pairs: ``new`` is the estimate, else the old sigma is kept

    @property
    def new(self) -> float:
        if not self.used:
            return self.old
        return max(round(self.estimate, DECIMALS), 10.0 ** -DECIMALS)


@dataclass
class SigmaEstimate:
    file_a: str
    file_b: str
    names: list[str]
    keypoints: list[KeypointSigma]
    old_source: str  # where the old sigmas come from
    match_by: str  # how images were paired
    images_paired: int
    images_only_a: list[str]
    images_only_b: list[str]
    instance_pairs: int
    instances_only_a: int
    instances_only_b: int
    pairing: dict[str, int]  # "bbox IoU" / "keypoints" -> instance pairs paired that way
    iou_thr: float
    scale: dict[str, int]  # "area" / "bbox" / "mixed" -> instance pairs whose s^2 came from it
    min_pairs: int
    confidence: float
    ignored: dict[str, int] = field(default_factory=dict)

    def sigmas(self) -> list[float]:
        """The sigmas to write: estimates where they rest on enough pairs, the old sigma elsewhere."""
        return [k.new for k in self.keypoints]

    def scale_text(self) -> str:
        used = [k for k, n in self.scale.items() if n]
        if used == ["area"]:
            return "s² = mean of the two annotations' `area`"
        if used == ["bbox"]:
            return "s² = mean of the two annotations' bbox w·h (no `area` field)"
        return "s² = mean `area`, or bbox w·h where `area` is missing: " + ", ".join(
            f"{n} pairs {k}" for k, n in self.scale.items() if n)

    def as_dict(self) -> dict:
        return dict(
            file_a=self.file_a, file_b=self.file_b, old_source=self.old_source, match_by=self.match_by,
            images_paired=self.images_paired, images_only_a=self.images_only_a, images_only_b=self.images_only_b,
            instance_pairs=self.instance_pairs, instances_only_a=self.instances_only_a,
            instances_only_b=self.instances_only_b, pairing=self.pairing, iou_thr=self.iou_thr,
            scale=self.scale, ignored=self.ignored, min_pairs=self.min_pairs, confidence=self.confidence,
            keypoints=[dict(name=k.name, pairs=k.pairs, old=k.old, estimate=k.estimate, low=k.low, high=k.high,
                            new=k.new, used=k.used, far=k.far) for k in self.keypoints],
            sigmas=self.sigmas(),
        )


# ---------------------------------------------------------------- reading


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise MmpxError(f"{what} file {path} does not exist", "give the path of a COCO keypoint .json file")
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MmpxError(f"{path}: not valid JSON ({exc})", "check the file is complete (not truncated)") from None


def _number(value) -> float | None:
    """A finite float, or None for anything else (bools, strings, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _category(data: dict, path: Path, category_id) -> dict:
    cats = [c for c in data["categories"] if isinstance(c, dict) and c.get("keypoints")]
    if category_id is not None:
        cats = [c for c in cats if c.get("id") == category_id]
        if not cats:
            raise MmpxError(f"{path}: no category with id {category_id} and keypoints",
                            "run without --category-id to see the categories")
    if len(cats) != 1:
        listing = ", ".join(f"{c.get('id')} ({c.get('name')})" for c in cats) or "none"
        raise MmpxError(f"{path}: categories[*].keypoints: {len(cats)} categories have keypoints ({listing})",
                        "pick one with --category-id" if cats else "COCO keypoint files name the keypoints in "
                        "their category's `keypoints` list")
    if not all(isinstance(n, str) for n in cats[0]["keypoints"]):
        raise MmpxError(f"{path}: category {cats[0].get('id')} keypoints must be a list of names",
                        'e.g. "keypoints": ["nose", "left_eye", ...]')
    return cats[0]


def _instance(ann: dict, i: int, k: int, path: Path) -> Instance | None:
    """The annotation as an :class:`Instance`; None when it has no labelled keypoint."""
    where = f"{path}: annotations[{i}] (id {ann.get('id')})"
    raw = ann.get("keypoints")
    values = [_number(v) for v in raw] if isinstance(raw, list) else None
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
        nums = [_number(v) for v in b] if isinstance(b, list) and len(b) == 4 else None
        if nums is not None and None not in nums and nums[2] > 0 and nums[3] > 0:
            box = tuple(nums)
        elif "area" not in ann:
            raise MmpxError(f"{where}: bbox is {str(b)[:60]}, not [x, y, w, h] with w, h > 0, and there is no "
                            "area to take the object's size from", "fix the box, or add the COCO `area` field")
    area = None
    if "area" in ann:
        area = _number(ann["area"])
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


def _pair_images(a: Labels, b: Labels, match_by: str):
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


def _pair_instances(a: list[Instance], b: list[Instance], iou_thr: float) -> tuple[list[tuple[int, int]], str]:
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


def _pair_scale(p: Instance, q: Instance) -> tuple[float, str]:
    """s² of a pair: the mean of both areas, or of both boxes; one of each only when nothing else is there."""
    if p.area is not None and q.area is not None:
        return (p.area + q.area) / 2, "area"
    if p.box is not None and q.box is not None:
        return (p.box[2] * p.box[3] + q.box[2] * q.box[3]) / 2, "bbox"
    return (p.scale()[0] + q.scale()[0]) / 2, "mixed"


# ---------------------------------------------------------------- estimating


def _interval(values: np.ndarray, confidence: float, resamples: int, rng) -> tuple[float | None, float | None]:
    """Bootstrap percentile interval of sqrt(mean / 2); real double labels have heavy tails (an occasional slip),
    which a chi-square interval would ignore."""
    n = len(values)
    if n < 2:
        return None, None
    means = []
    chunk = max(1, 2_000_000 // n)  # bounded memory for tens of thousands of pairs
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, (min(chunk, resamples - start), n))
        means.append(values[idx].mean(axis=1))
    lo, hi = np.quantile(np.concatenate(means), [(1 - confidence) / 2, (1 + confidence) / 2])
    return math.sqrt(lo / 2), math.sqrt(hi / 2)


def default_sigmas(names: Sequence[str]) -> tuple[list[float], str]:
    """The sigmas a file without metainfo is evaluated with: COCO's for COCO's 17 keypoints (as ``mmpx eval``),
    else mmpx's default (what ``mmpx metainfo from-coco`` writes)."""
    from mmpx.evaluation.api import COCO_NAMES, COCO_SIGMAS
    from mmpx.metainfo import DEFAULT_SIGMA

    if tuple(names) == COCO_NAMES:
        return list(COCO_SIGMAS), "COCO's sigmas (the keypoints are COCO's 17)"
    return [DEFAULT_SIGMA] * len(names), f"mmpx's default {DEFAULT_SIGMA} each"


def estimate_sigmas(ann_a: str | Path, ann_b: str | Path, old_sigmas: Sequence[float] | None = None,
                    old_source: str = "", old_names: Sequence[str] | None = None, match_by: str = "auto",
                    iou_thr: float = 0.5, min_pairs: int = 10, confidence: float = 0.95, category_id: int | None = None,
                    resamples: int = 1000, seed: int = 0) -> SigmaEstimate:
    """OKS sigma per keypoint from two labellings of the same images.

    Args:
        ann_a, ann_b: COCO keypoint files, the same images labelled twice, independently.
        old_sigmas: the sigmas in use (kept where the estimate rests on too few pairs); default
            :func:`default_sigmas`.
        old_source: where ``old_sigmas`` come from (the metainfo file), for the report.
        old_names: the keypoint names of the metainfo holding ``old_sigmas``; must be the files' names.
        match_by: pair images by ``file_name``, by ``id``, or ``auto`` (file names when every image has one).
        iou_thr: least box IoU for two instances to be the same object.
        min_pairs: keypoints with fewer pairs keep their old sigma.
        confidence: of the bootstrap interval.
        category_id: the keypoint category, when a file has several.
        resamples, seed: bootstrap resamples; fixed seed, so a rerun prints the same interval.

    Raises:
        MmpxError: unreadable or non-COCO files, keypoint lists that differ, no paired images or instances,
            bad areas, two files that agree exactly (not independent labellings).
    """
    if match_by not in MATCH_BY:  # before reading anything
        raise MmpxError(f"--match-by {match_by!r} is not a way to pair images", f"use {', '.join(MATCH_BY)}")
    a, b = read_labels(ann_a, category_id), read_labels(ann_b, category_id)
    check_names(a.names, b.names, a.path, b.path)
    k = len(a.names)
    if old_names is not None:
        check_names(old_names, a.names, old_source, a.path)
    if old_sigmas is None:
        old_sigmas, default = default_sigmas(a.names)
        old_source = f"{old_source} has no sigmas: {default}" if old_source else f"no metainfo: {default}"
    if len(old_sigmas) != k or any(_number(v) is None or v <= 0 for v in old_sigmas):
        raise MmpxError(f"{old_source}: sigmas must be {k} positive numbers (one per keypoint), found "
                        f"{str(list(old_sigmas))[:80]}", "fix the sigmas list of the metainfo file")
    how, image_pairs, only_a, only_b = _pair_images(a, b, match_by)
    values: list[list[float]] = [[] for _ in range(k)]
    pairing = {"bbox IoU": 0, "keypoints": 0}
    scale = {"area": 0, "bbox": 0, "mixed": 0}
    n_pairs = lone_a = lone_b = 0
    for id_a, id_b in image_pairs:
        insts_a, insts_b = a.instances.get(id_a, []), b.instances.get(id_b, [])
        pairs, pair_how = _pair_instances(insts_a, insts_b, iou_thr)
        pairing[pair_how] += len(pairs)
        n_pairs += len(pairs)
        lone_a += len(insts_a) - len(pairs)
        lone_b += len(insts_b) - len(pairs)
        for i, j in pairs:
            p, q = insts_a[i], insts_b[j]
            s2, source = _pair_scale(p, q)
            scale[source] += 1
            both = p.labelled & q.labelled
            d2 = ((p.xy - q.xy) ** 2).sum(axis=1) / s2
            for kp in np.flatnonzero(both):
                values[kp].append(float(d2[kp]))
    if not n_pairs:
        raise MmpxError(f"{len(image_pairs)} images are in both files, but no instance of {a.path} pairs with one "
                        f"of {b.path} (box IoU >= {iou_thr}, or keypoints within {KEYPOINT_PAIR_MAX}·s)",
                        "check that both files label the same objects; lower --iou-thr if the boxes are loose")
    if all(not v or not any(v) for v in values):
        raise MmpxError(f"{a.path} and {b.path} place every paired keypoint at exactly the same point: they are "
                        "not two independent labellings", "label the images a second time (another person, or "
                        "the same a few days later) and give that file")
    rng = np.random.default_rng(seed)
    rows = []
    for name, vals, old in zip(a.names, values, old_sigmas, strict=True):
        arr = np.asarray(vals, dtype=np.float64)
        estimate = math.sqrt(arr.mean() / 2) if len(arr) else None
        low, high = _interval(arr, confidence, resamples, rng)
        used = len(arr) >= min_pairs and bool(estimate)
        rows.append(KeypointSigma(name, len(arr), estimate, low, high, float(old), int((arr > FAR ** 2).sum()),
                                  used))
    return SigmaEstimate(
        file_a=str(a.path), file_b=str(b.path), names=a.names, keypoints=rows, old_source=old_source,
        match_by=how, images_paired=len(image_pairs), images_only_a=only_a, images_only_b=only_b,
        instance_pairs=n_pairs, instances_only_a=lone_a, instances_only_b=lone_b, pairing=pairing,
        iou_thr=iou_thr, scale=scale, min_pairs=min_pairs, confidence=confidence,
        ignored={str(a.path): a.ignored, str(b.path): b.ignored})


# ---------------------------------------------------------------- COCO AP under two sets of sigmas


def ap_under_sigmas(gt: str | Path, predictions: str | Path, infos: dict[str, dict]) -> dict[str, dict]:
    """COCO AP/AR of ``predictions`` against ``gt`` under each metainfo of ``infos`` (label -> dataset_info)."""
    from mmpx.evaluation import evaluate

    return {label: evaluate(gt, predictions, metainfo=info, metrics=["coco"])["metrics"]
            for label, info in infos.items()}


# ---------------------------------------------------------------- writing


def _format(sigmas: Sequence[float], indent: int) -> str:
    rows = [", ".join(repr(s) for s in sigmas[i:i + 10]) for i in range(0, len(sigmas), 10)]
    return "[" + (",\n" + " " * (indent + 1)).join(rows) + "]"


def _dataset_info(tree: ast.Module) -> ast.expr | None:
    """The value of the first ``dataset_info = ...`` (the one :func:`~mmpx.metainfo.load_metainfo` reads)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "dataset_info"
                                                for t in node.targets):
            return node.value
    return None


def sigmas_text(text: str, sigmas: Sequence[float]) -> str | None:
    """``text`` (a metainfo file) with its ``sigmas`` replaced, or added to ``dataset_info``; every other byte,
    comments and layout included, stays. None when ``dataset_info`` is not a ``dict(...)`` or ``{...}``."""
    tree = ast.parse(text)
    node = _dataset_info(tree)
    raw = text.encode("utf-8")
    # ast positions are (line, UTF-8 byte column); Python ends lines at \n, \r\n or \r
    starts = [0] + [m.end() for m in re.finditer(rb"\r\n|\n|\r", raw)]

    def at(line: int, col: int) -> int:
        return starts[line - 1] + col

    def column(pos: int) -> int:
        line_start = max(s for s in starts if s <= pos)
        return len(raw[line_start:pos].decode("utf-8"))

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        value = next((kw.value for kw in node.keywords if kw.arg == "sigmas"), None)
        elements = [*node.args, *[kw.value for kw in node.keywords]]
        key = "sigmas="
    elif isinstance(node, ast.Dict):
        value = next((v for k, v in zip(node.keys, node.values, strict=True)
                      if isinstance(k, ast.Constant) and k.value == "sigmas"), None)
        elements = list(node.values)
        key = "'sigmas': "
    else:
        return None
    if value is not None:
        begin, end = at(value.lineno, value.col_offset), at(value.end_lineno, value.end_col_offset)
        new = _format(sigmas, column(begin)).encode("utf-8")
    else:  # no sigmas yet: after the last entry (before any trailing comma), or inside an empty dict()
        end_of = at(node.end_lineno, node.end_col_offset)
        if elements:
            last = elements[-1]
            begin = end = at(last.end_lineno, last.end_col_offset)
            new = f", {key}{_format(sigmas, column(begin) + 2 + len(key))}".encode()
        else:
            begin = end = end_of - 1
            new = f"{key}{_format(sigmas, column(begin) + len(key))}".encode()
    return (raw[:begin] + new + raw[end:]).decode("utf-8")


def write_sigmas(source: str | Path | dict, out: str | Path, sigmas: Sequence[float]) -> str:
    """Write the metainfo ``source`` (a file, or a dataset_info dict) with ``sigmas`` to ``out``, atomically.

    A file is edited in place of its ``sigmas`` only, so names, skeleton, swaps, joint weights, colours and
    comments stay as they were. What was written is read back before it replaces ``out``: it must load to the
    same metainfo with the new sigmas, or nothing is written.

    Returns:
        How: ``"replaced"`` (the sigmas list), ``"added"`` (a file without sigmas) or ``"rewritten"``
        (a dict, or a file whose ``dataset_info`` is not a literal dict: written out in full).
    """
    from mmpx import atomic
    from mmpx.metainfo import dumps, load_metainfo

    sigmas = [float(s) for s in sigmas]
    if isinstance(source, dict):
        info, text = source, None
    else:
        info = load_metainfo(source)
        text = Path(source).read_text(encoding="utf-8")
    expected = dict(info, sigmas=sigmas)
    new_text = sigmas_text(text, sigmas) if text is not None else None
    how = "rewritten" if new_text is None else "replaced" if "sigmas" in info else "added"
    if new_text is None:
        new_text = dumps(expected)
    with atomic.atomic_path(out, suffix=".py") as tmp:
        tmp.write_text(new_text, encoding="utf-8")
        if load_metainfo(tmp) != expected:
            raise MmpxError(f"{out}: the edited metainfo did not read back as the original with new sigmas; "
                            "nothing was written", "report this with the metainfo file attached")
    return how
