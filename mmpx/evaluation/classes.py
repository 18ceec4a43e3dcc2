"""``mmpx eval`` with a multi-class metainfo: every class scored on its own category, keypoints and sigmas.

A multi-class dataset's COCO files hold one category per class, each with its own keypoint count (the metainfo's
``classes``, :mod:`mmpx.metainfo.classes`). Each class is evaluated alone, exactly as COCOeval run on copies of the
ground truth and results holding that category only (its annotations, its results, its slice of the union's
sigmas): COCO AP/AR and the per-keypoint metrics. The overall figures are the means over the classes that have
ground truth in the file (as ``MultiClassCocoMetric``'s ``coco/AP``), except the swap rate, which pools the
classes' pairs. Per-keypoint rows and swap pairs are named as the union names them, ``<class>/<keypoint>``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence

import numpy as np

from mmpx.errors import MmpxError
from mmpx.metainfo.classes import KeypointClass, union_name

_FORM = "each result is {image_id, category_id, keypoints: [x, y, score, ...], score}"


def check_class_predictions(results, gt: dict, classes: Sequence[KeypointClass], pred_name: str) -> None:
    """The checks of :func:`mmpx.evaluation.api.check_predictions`, with each result's keypoint count that of its
    ``category_id``'s class. Raises :class:`MmpxError` naming the first bad result."""
    from mmpx.evaluation.api import check_predictions

    if not isinstance(results, list) or not results:
        raise MmpxError(f"{pred_name}: expected a non-empty JSON list of COCO keypoint results", _FORM)
    by_id = {c.id: c for c in classes}
    names = ", ".join(f"{c.name} (id {c.id})" for c in classes)
    for i, r in enumerate(results):
        if not isinstance(r, dict) or "category_id" not in r:
            raise MmpxError(f"{pred_name}: result {i} lacks category_id: {str(r)[:80]}", _FORM)
        if r["category_id"] not in by_id:
            raise MmpxError(f"{pred_name}: result {i} (image {r.get('image_id')}) has category_id "
                            f"{r['category_id']!r}, not a class of the metainfo ({names})",
                            "give each result the category_id of its class")
    for cls in classes:
        mine = [r for r in results if r["category_id"] == cls.id]
        if mine:
            check_predictions(mine, gt, len(cls.keypoints), f"{pred_name} ({cls.name} results)")


def class_ground_truth(gt: dict, cls: KeypointClass, gt_name: str) -> dict:
    """A copy of ``gt`` holding ``cls``'s category and annotations only (every image kept).

    Raises:
        MmpxError: an annotation of a category that is no class, or one whose keypoint count is not its class's.
    """
    anns = []
    for a in gt["annotations"]:
        if a.get("category_id") != cls.id:
            continue
        if len(a.get("keypoints", ())) != 3 * len(cls.keypoints):
            raise MmpxError(f"{gt_name}: annotation {a.get('id')} ({cls.name}) has {len(a.get('keypoints', ()))} "
                            f"keypoint values, its class {3 * len(cls.keypoints)} ({len(cls.keypoints)} x 3)",
                            f"`mmpx check data {gt_name} --metainfo METAINFO` lists every such annotation")
        anns.append(a)
    cats = [c for c in gt.get("categories", []) if c.get("id") == cls.id] or [dict(id=cls.id, name=cls.name)]
    return dict(gt, categories=cats, annotations=anns)


def check_gt_categories(gt: dict, classes: Sequence[KeypointClass], gt_name: str) -> None:
    """Every annotation's ``category_id`` is a class's id."""
    known = {c.id for c in classes}
    bad = next((a for a in gt["annotations"] if a.get("category_id") not in known), None)
    if bad is not None:
        names = ", ".join(f"{c.name} (id {c.id})" for c in classes)
        raise MmpxError(f"{gt_name}: annotation {bad.get('id')} has category_id {bad.get('category_id')!r}, not a "
                        f"class of the metainfo ({names})",
                        "give the metainfo of this dataset (its classes are the file's categories)")


def gt_classes(gt: dict, names: Sequence[str]) -> list[KeypointClass] | None:
    """The classes of a multi-category COCO ``gt`` whose keypoint layout is the union ``names``: two or more
    categories (in id order) whose keypoints, named ``<category>/<keypoint>``, are ``names`` block after block;
    None otherwise (one keypoint set)."""
    cats = [c for c in gt.get("categories") or [] if isinstance(c, dict)]
    if len(cats) < 2:
        return None
    found, start = [], 0
    try:
        cats = sorted(cats, key=lambda c: c["id"])
        for c in cats:
            own = [str(k) for k in c.get("keypoints") or []]
            if not own or list(names[start:start + len(own)]) != [union_name(str(c["name"]), k) for k in own]:
                return None
            found.append(KeypointClass(int(c["id"]), str(c["name"]), tuple(own), start))
            start += len(own)
    except (KeyError, TypeError, ValueError):
        return None
    return found if start == len(names) else None


def to_union(records: Sequence[dict], classes: Sequence[KeypointClass], num_keypoints: int) -> list[dict]:
    """Copies of annotations or results with each one's keypoints in its class's block of the union, ``0, 0, 0``
    elsewhere (unlabelled; a result's score 0), as a one-class tool reads the union."""
    by_id = {c.id: c for c in classes}
    out = []
    for r in records:
        cls = by_id[r["category_id"]]
        kpts = [0.0] * (3 * num_keypoints)
        kpts[3 * cls.start: 3 * cls.stop] = list(r.get("keypoints") or [0.0] * (3 * len(cls.keypoints)))
        out.append(dict(r, keypoints=kpts))
    return out


def evaluate_classes(gt: dict, results: Sequence[dict], classes: Sequence[KeypointClass], sigmas: Sequence[float],
                     flip: Sequence[int], by: str | Iterable[str] | None, metrics: Iterable[str], pck_thr: float,
                     pck_norm: str, gt_name: str = "ground truth") -> dict:
    """The ``mmpx-eval/1`` dict for several classes: ``classes`` (per class: ``id``, ``name``, ``annotations``,
    ``predictions`` and what :func:`~mmpx.evaluation.api.evaluate_loaded` gives for it alone), ``metrics`` (the
    means over the classes with ground truth; the swap rate pooled), ``keypoints`` and ``swaps`` (every class's,
    named ``<class>/<keypoint>``), ``matching`` (summed) and, with ``by``, ``groups`` (per group, the mean over
    the classes with ground truth in it)."""
    from xtcocotools.coco import COCO

    from mmpx.evaluation.api import SCHEMA, evaluate_loaded

    metrics = list(metrics)
    check_gt_categories(gt, classes, gt_name)
    sigmas, flip = list(sigmas), list(flip)
    per_class = []
    for cls in classes:
        sub = class_ground_truth(gt, cls, gt_name)
        mine = [r for r in results if r["category_id"] == cls.id]
        block = slice(cls.start, cls.stop)
        own_flip = [i - cls.start if cls.start <= i < cls.stop else k for k, i in enumerate(flip[block])]
        coco_gt = COCO()
        coco_gt.dataset = sub
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt.createIndex()
        if mine:
            out = evaluate_loaded(coco_gt, mine, list(cls.keypoints), sigmas[block], own_flip, by, metrics,
                                  pck_thr, pck_norm)
        else:  # no result of this class: COCOeval gives 0 (-1 without ground truth)
            out = _no_results(sub, by, metrics)
        out.pop("schema", None)
        per_class.append(dict(id=cls.id, name=cls.name, annotations=len(sub["annotations"]),
                              predictions=len(mine), **out))
    return dict(schema=SCHEMA, num_images=len(gt["images"]), num_predictions=len(results),
                **_combine(per_class, by))


def _no_results(sub: dict, by, metrics: list[str]) -> dict:
    from mmpx.evaluation.coco import STATS_NAMES
    from mmpx.evaluation.groups import group_images

    value = 0.0 if sub["annotations"] else -1.0
    out: dict = dict(num_images=len(sub["images"]), num_predictions=0, metrics={})
    if "coco" in metrics:
        out["metrics"] = {n: value for n in STATS_NAMES}
        if by is not None:
            groups = group_images(sub["images"], by)
            out["by"] = by if isinstance(by, str) else list(by)
            out["groups"] = {v: dict({n: value for n in STATS_NAMES}, num_images=len(ids))
                             for v, ids in groups.items()}
    return out


def _mean(values: list) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def _combine(per_class: list[dict], by) -> dict:
    scored = [c for c in per_class if c["annotations"]] or per_class  # a class absent from the file: left out
    keys = [k for c in scored for k in c["metrics"] if k != "swap rate"]
    metrics = {k: _mean([c["metrics"].get(k) for c in scored]) for k in dict.fromkeys(keys)}
    out: dict = dict(metrics=metrics, classes=per_class)
    rows = [dict(r, name=union_name(c["name"], r["name"])) for c in per_class for r in c.get("keypoints", [])]
    if rows:
        out["keypoints"] = rows
    if any("swaps" in c for c in per_class):
        pairs = [dict(p, pair=[union_name(c["name"], n) for n in p["pair"]])
                 for c in per_class for p in c.get("swaps", [])]
        swapped, total = sum(p["swapped"] for p in pairs), sum(p["total"] for p in pairs)
        metrics["swap rate"] = swapped / total if total else None
        out["swaps"] = pairs
    if any("matching" in c for c in per_class):
        out["matching"] = {k: sum(c.get("matching", {}).get(k, 0) for c in per_class)
                           for k in ("gt_instances", "matched", "unmatched_predictions")}
    if by is not None:
        out["by"] = by if isinstance(by, str) else list(by)
        values = dict.fromkeys(v for c in per_class for v in c.get("groups", {}))
        out["groups"] = {}
        for v in values:
            having = [c["groups"][v] for c in per_class if v in c.get("groups", {}) and c["groups"][v].get("AP", -1)
                      != -1] or [c["groups"][v] for c in per_class if v in c.get("groups", {})]
            stats = [k for k in having[0] if k != "num_images"]
            out["groups"][v] = dict({k: _mean([g[k] for g in having]) for k in stats},
                                    num_images=having[0]["num_images"])
    return out
