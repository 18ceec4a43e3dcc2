"""``evaluate(gt_json, pred_json, ...)``: COCO AP/AR (overall, per group) and per-keypoint metrics in one call.

The returned dict (also what ``mmpx eval --out`` writes; schema ``mmpx-eval/1``, documented in
docs/guides/evaluation.md) is stable: keys are only ever added.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.evaluation import coco, keypoints, matching
from mmpx.evaluation.groups import group_images

SCHEMA = "mmpx-eval/1"
METRICS = ("coco", "pck", "epe", "oks_per_keypoint", "swap")
# MMPose's configs/_base_/datasets/coco.py, used when a 17-keypoint file comes without metainfo
COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
              "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
              "right_knee", "left_ankle", "right_ankle")
COCO_SIGMAS = (0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107,
               0.087, 0.087, 0.089, 0.089)
COCO_FLIP = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)


def _read_json(path: Path, what: str):
    if not path.is_file():
        raise MmpxError(f"{what} file {path} does not exist", f"give the path of the {what} JSON file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MmpxError(f"{path}: not valid JSON ({exc})", "check the file is complete (not truncated)") from None


def keypoint_spec(metainfo: dict | None, gt: dict) -> tuple[list[str], list[float], list[int]]:
    """(names, sigmas, flip indices) from MMPose metainfo, or COCO's for a 17-keypoint file without it."""
    if metainfo is not None:
        from mmpx.metainfo import keypoint_names

        names = keypoint_names(metainfo)
        sigmas = list(metainfo.get("sigmas") or [])
        if len(sigmas) != len(names):
            raise MmpxError(f"metainfo has {len(sigmas)} sigmas for {len(names)} keypoints",
                            "give one OKS sigma per keypoint in `sigmas`")
        index = {n: i for i, n in enumerate(names)}
        by_id = sorted(metainfo["keypoint_info"].values(), key=lambda kp: kp.get("id", 0))
        flip = [index.get(kp.get("swap") or kp["name"], i) for i, kp in enumerate(by_id)]
        return names, [float(s) for s in sigmas], flip
    # the annotations decide: Human-Art's category names 21 keypoints while `keypoints` holds COCO's 17
    anns = gt.get("annotations") or []
    num = len(anns[0].get("keypoints", ())) // 3 if anns else 17
    if num != 17:
        raise MmpxError(f"the ground truth has {num} keypoints and no metainfo was given",
                        "pass --metainfo FILE (an MMPose dataset_info .py) for its names, sigmas and swaps")
    return list(COCO_NAMES), list(COCO_SIGMAS), list(COCO_FLIP)


def check_predictions(results, gt: dict, num_keypoints: int, pred_name: str = "predictions") -> None:
    """Raise :class:`MmpxError` for predictions that cannot be evaluated against ``gt``: the first bad result
    is named by its index and image id, with the field and what was expected."""
    form = "each result is {image_id, category_id, keypoints: [x, y, score, ...], score}"
    if not isinstance(results, list) or not results:
        raise MmpxError(f"{pred_name}: expected a non-empty JSON list of COCO keypoint results", form)
    for i, r in enumerate(results):
        lacks = [f for f in ("image_id", "category_id", "keypoints", "score") if f not in r] \
            if isinstance(r, dict) else ["all fields (it is not an object)"]
        if lacks:
            raise MmpxError(f"{pred_name}: result {i} lacks {', '.join(lacks)}: {str(r)[:80]}", form)
    gt_ids = {img["id"] for img in gt.get("images", [])}
    unknown = sorted({r["image_id"] for r in results} - gt_ids, key=str)
    if unknown:
        raise MmpxError(f"{pred_name}: {len(unknown)} image id(s) are not in the ground truth: "
                        f"{', '.join(map(str, unknown[:5]))}", "evaluate against the GT file of the same split")
    cat_ids = {c.get("id") for c in gt.get("categories", [])}
    bad = next(((i, r) for i, r in enumerate(results) if cat_ids and r["category_id"] not in cat_ids), None)
    if bad is not None:
        raise MmpxError(f"{pred_name}: result {bad[0]} (image {bad[1]['image_id']}) has category_id "
                        f"{bad[1]['category_id']!r}; the ground truth's categories are {sorted(cat_ids, key=str)}",
                        "use the category id of the ground truth")
    bad = next(((i, r) for i, r in enumerate(results)
                if not isinstance(r["keypoints"], list) or len(r["keypoints"]) != 3 * num_keypoints), None)
    if bad is not None:
        i, r = bad
        n = len(r["keypoints"]) if isinstance(r["keypoints"], list) else type(r["keypoints"]).__name__
        raise MmpxError(f"{pred_name}: result {i} (image {r['image_id']}) has {n} keypoint values, expected "
                        f"{3 * num_keypoints} ({num_keypoints} keypoints x 3)",
                        "give the metainfo of the skeleton the predictions use (--metainfo)")
    _check_numbers(results, pred_name)


def _check_numbers(results: Sequence[dict], pred_name: str) -> None:
    """Keypoints and scores must be finite numbers: NaN matched nothing and read as EPE 0.0, a string crashed
    deep in the matching."""
    from mmpx.check.keypoints import to_array

    found: list[tuple[int, str]] = []
    to_array([r["keypoints"] for r in results], len(results[0]["keypoints"]),
             lambda i, what: found.append((i, f"keypoints: {what}")))
    to_array([[r["score"]] for r in results], 1, lambda i, what: found.append((i, f"score is {results[i]['score']!r}")))
    if found:
        i, what = min(found)
        raise MmpxError(f"{pred_name}: result {i} (image {results[i]['image_id']}): {what}"
                        + (f" ({len(found) - 1} more bad result(s))" if len(found) > 1 else ""),
                        "keypoint coordinates and scores must be finite JSON numbers; drop failed predictions "
                        "instead of writing NaN")


def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def evaluate_loaded(coco_gt, results: Sequence[dict], names: Sequence[str], sigmas: Sequence[float],
                    flip_indices: Sequence[int] | None = None, by: str | Iterable[str] | None = None,
                    metrics: Iterable[str] = METRICS, pck_thr: float = 0.05, pck_norm: str = "bbox",
                    use_area: bool = True, matched: matching.Matching | None = None) -> dict:
    """:func:`evaluate` on an already loaded ``xtcocotools.coco.COCO`` and list of results (no checks).

    ``matched``: :func:`~mmpx.evaluation.matching.match` of the same results, when the caller has it already.
    """
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise MmpxError(f"unknown metric(s) {', '.join(unknown)}", f"choose from {', '.join(METRICS)}")
    gt = coco_gt.dataset
    out: dict = dict(schema=SCHEMA, num_images=len(gt["images"]), num_predictions=len(results), metrics={})
    groups = group_images(gt["images"], by)
    if "coco" in metrics:
        overall, per_group = coco.grouped_coco_metrics(coco_gt, results, sigmas, groups, use_area)
        out["metrics"].update(overall)
        if by is not None:
            out["by"] = by if isinstance(by, str) else list(by)
            out["groups"] = {v: dict(per_group[v], num_images=len(ids)) for v, ids in groups.items()}
    per_kpt = [m for m in metrics if m != "coco"]
    if not per_kpt:
        return out
    m = matched if matched is not None else matching.match(coco_gt.imgs, gt["annotations"], results, sigmas)
    out["matching"] = dict(gt_instances=len(m.gt_pred), matched=int((m.gt_pred >= 0).sum()),
                           unmatched_predictions=int((m.pred_gt < 0).sum()))
    rows = [dict(name=n, count=int(c)) for n, c in zip(names, m.gt_vis.sum(0), strict=True)]
    if "pck" in metrics:
        per, mean, _ = keypoints.pck(m, pck_thr, pck_norm)
        out["metrics"]["PCK"] = mean
        out["pck"] = dict(thr=pck_thr, norm=pck_norm)
        for row, value in zip(rows, per, strict=True):
            row["PCK"] = _num(value)
    if "epe" in metrics:
        per, overall = keypoints.epe(m)
        out["metrics"]["EPE"] = overall
        for row, value in zip(rows, per, strict=True):
            row["EPE"] = _num(value)
    if "oks_per_keypoint" in metrics:
        per = keypoints.oks_ap(m, sigmas)
        out["metrics"]["OKS AP (mean per keypoint)"] = _num(np.nanmean(per)) if np.isfinite(per).any() else None
        for row, value in zip(rows, per, strict=True):
            row["OKS AP"] = _num(value)
    out["keypoints"] = rows
    if "swap" in metrics:
        pairs = keypoints.swaps(m, keypoints.swap_pairs(flip_indices or range(len(names))))
        for pair in pairs:
            pair["pair"] = [names[i] for i in pair["pair"]]
        swapped, total = sum(p["swapped"] for p in pairs), sum(p["total"] for p in pairs)
        out["metrics"]["swap rate"] = swapped / total if total else None
        out["swaps"] = pairs
    return out


def evaluate(gt_json: str | Path, pred_json: str | Path, metainfo: str | Path | dict | None = None,
             by: str | Iterable[str] | None = None, metrics: Iterable[str] = METRICS, pck_thr: float = 0.05,
             pck_norm: str = "bbox") -> dict:
    """Evaluate COCO keypoint results from any tool against COCO keypoint ground truth.

    Args:
        gt_json: COCO keypoint annotation file.
        pred_json: COCO keypoint results file (a list of ``image_id``, ``category_id``, ``keypoints``,
            ``score``), e.g. the ``*.keypoints.json`` MMPose's CocoMetric writes.
        metainfo: MMPose metainfo file (or its loaded dict) for keypoint names, OKS sigmas and swaps;
            optional for COCO's 17 keypoints.
        by: image field(s) to group by (``scenario``/``group`` are derived for Human-Art).
        metrics: any of :data:`METRICS`.
        pck_thr: PCK threshold. pck_norm: ``bbox``, ``torso`` or ``head``.

    Returns:
        The ``mmpx-eval/1`` dict: ``metrics`` (CocoMetric's names, ``PCK``, ``EPE``,
        ``OKS AP (mean per keypoint)``, ``swap rate``), ``keypoints`` (one row per keypoint), ``swaps``,
        ``matching``, and with ``by``: ``by`` and ``groups`` (value -> CocoMetric's names + ``num_images``).
        With a multi-class metainfo (``classes``) also ``classes``, each class scored alone, and the overall
        figures their means (:mod:`mmpx.evaluation.classes`).

    Raises:
        MmpxError: missing or invalid files, unknown image ids, wrong keypoint count, unknown ``by`` field.
    """
    from xtcocotools.coco import COCO

    from mmpx.evaluation.rekey import rekey_by_file_name

    gt_path, pred_path = Path(gt_json), Path(pred_json)
    gt = _read_json(gt_path, "ground-truth")
    if not isinstance(gt, dict) or not {"images", "annotations"} <= set(gt):
        raise MmpxError(f"{gt_path}: not a COCO annotation file (needs images and annotations)",
                        "give the COCO keypoint ground truth as the first argument")
    gt.setdefault("categories", [dict(id=1, name="person")])
    from mmpx.check.coco import first_bad_id

    if (bad := first_bad_id(gt)) is not None:
        raise MmpxError(f"{gt_path}: {bad}", f"fix the ids; `mmpx check data {gt_path}` lists every problem")
    if metainfo is not None and not isinstance(metainfo, dict):
        from mmpx.metainfo import load_metainfo

        metainfo = load_metainfo(metainfo)
    classes = None
    if metainfo is not None:
        from mmpx.metainfo.classes import keypoint_classes

        classes = keypoint_classes(metainfo, "--metainfo")
    if classes is not None:  # several classes: each scored alone on its own keypoints and sigmas
        from mmpx.evaluation.classes import check_class_predictions, evaluate_classes

        _, sigmas, flip = keypoint_spec(metainfo, gt)
        results, rekeyed = rekey_by_file_name(_read_json(pred_path, "prediction"), gt, str(pred_path))
        check_class_predictions(results, gt, classes, str(pred_path))
        out = evaluate_classes(gt, results, classes, sigmas, flip, by, metrics, pck_thr, pck_norm, str(gt_path))
        return dict(gt=str(gt_path), pred=str(pred_path), **_rekeyed(rekeyed), **out)
    names, sigmas, flip = keypoint_spec(metainfo, gt)
    bad_gt = next((a for a in gt["annotations"] if len(a.get("keypoints", ())) != 3 * len(names)), None)
    if bad_gt is not None:
        raise MmpxError(f"{gt_path}: annotation {bad_gt.get('id')} has {len(bad_gt.get('keypoints', ()))} "
                        f"keypoint values, expected {3 * len(names)} ({len(names)} keypoints x 3)",
                        "give the metainfo of this dataset's skeleton (--metainfo)")
    results, rekeyed = rekey_by_file_name(_read_json(pred_path, "prediction"), gt, str(pred_path))
    check_predictions(results, gt, len(names), str(pred_path))
    coco_gt = COCO()
    coco_gt.dataset = gt
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt.createIndex()
    out = evaluate_loaded(coco_gt, results, names, sigmas, flip, by, metrics, pck_thr, pck_norm)
    return dict(gt=str(gt_path), pred=str(pred_path), **_rekeyed(rekeyed), **out)


def _rekeyed(count: int) -> dict:
    """``matched_by_file_name``: how many results took the ground truth's image id from their file_name."""
    return dict(matched_by_file_name=count) if count else {}
