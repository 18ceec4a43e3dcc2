"""Vectorised keypoint rules shared by the COCO and MPII checks: one NumPy pass per group of arrays."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mmpx.errors.problems import Problem, error, warning

TOL = 1.0  # pixels a keypoint may stray past a box or image edge


def to_array(rows: Sequence[list], width: int,
             report: Callable[[int, str], None]) -> tuple[np.ndarray, np.ndarray]:
    """``(array (N, width) float, indices of the rows kept)``; rows holding anything but finite numbers are
    reported as ``report(row index, what is wrong)`` and dropped."""
    try:
        raw = np.asarray(rows)
        if raw.dtype.kind not in "iuf":  # strings: float("12") would pass them silently; None, lists: objects
            raise TypeError
        arr = raw.astype(np.float64).reshape(len(rows), width)
        keep = np.arange(len(rows))
    except (TypeError, ValueError):  # rare: find the bad rows one by one
        good, keep_list = [], []
        for i, row in enumerate(rows):
            if (bad := first_non_number(row)) is not None:
                report(i, bad)
                continue
            good.append(np.asarray(row, dtype=np.float64).reshape(width))
            keep_list.append(i)
        arr = np.stack(good) if good else np.zeros((0, width))
        keep = np.asarray(keep_list, dtype=int)
    bad = ~np.isfinite(arr).all(axis=1)
    for i in np.flatnonzero(bad):
        j = int(np.flatnonzero(~np.isfinite(arr[i]))[0])
        report(int(keep[i]), f"value {j} is {arr[i, j]:g}")
    return arr[~bad], keep[~bad]


def first_non_number(row) -> str | None:
    """What is wrong with the first value of ``row`` that is not a number, or None (JSON true/false pass as
    1/0, as NumPy reads them)."""
    if not isinstance(row, list | tuple):
        return f"it is {type(row).__name__}, not a list"
    for j, v in enumerate(row):
        if not isinstance(v, int | float):
            kind = "a string" if isinstance(v, str) else type(v).__name__ if v is not None else "null"
            return f"value {j} is {v!r} ({kind}), not a number"
    return None


def _nan_rows(values: Sequence, width: int) -> np.ndarray:
    rows = [v if v is not None else (np.nan,) * width for v in values]
    return np.array(rows, dtype=np.float64).reshape(-1, width)


def _first(mask_row: np.ndarray) -> int:
    return int(np.flatnonzero(mask_row)[0])


def scan(kpts: np.ndarray, sizes: Sequence, boxes: Sequence | None, allowed: tuple[int, ...]) -> dict:
    """Masks (N, K) of keypoints breaking each rule. ``kpts`` is (N, K, 3): x, y, visibility."""
    x, y, v = kpts[..., 0], kpts[..., 1], kpts[..., 2]
    labelled = v > 0
    wh = _nan_rows(sizes, 2)
    w, h = wh[:, :1], wh[:, 1:]
    # comparisons with NaN are False: rows without a known size or box are never flagged
    out_img = labelled & ((x < -TOL) | (y < -TOL) | (x > w + TOL) | (y > h + TOL))
    # COCO-WholeBody stores confidences (0.09, ...) as v; MMPose takes min(1, v) as the weight: a warning
    frac = ~np.isin(v, allowed) & (v > 0) & (v < max(allowed))
    masks = {"labelled": labelled, "vis": ~np.isin(v, allowed) & ~frac, "vis_frac": frac, "out_img": out_img,
             "zero": (v == 0) & ((x != 0) | (y != 0)) & ~((x == -1) & (y == -1))}
    if boxes is not None:
        b = _nan_rows(boxes, 4)
        bx, by, bw, bh = (b[:, i:i + 1] for i in range(4))
        masks["out_box"] = labelled & ~out_img & ((x < bx - TOL) | (y < by - TOL) | (x > bx + bw + TOL)
                                                  | (y > by + bh + TOL))
    return masks


def describe(k: int, names: Sequence[str], xy: np.ndarray) -> str:
    name = f" ({names[k]})" if k < len(names) else ""
    return f"keypoint {k}{name} at ({xy[0]:g}, {xy[1]:g})"


def masks_to_problems(masks: dict, kpts: np.ndarray, rows: Sequence[tuple[str, str]], names: Sequence[str],
                      file: str, fld: str, allowed: tuple[int, ...],
                      field_at: Callable[[int, int], str] | None = None) -> list[Problem]:
    """One problem per row and rule; ``rows`` gives (field path, label) per row of ``kpts``; ``field_at(row, k)``
    names the array keypoint k comes from when it is not ``fld``."""
    problems = []
    rules = (
        ("vis", error, "invalid visibility", f"visibility must be one of {allowed}", "visibility"),
        ("vis_frac", warning, "fractional visibility", "MMPose uses min(1, v) as the keypoint's loss weight; "
         "write 1 (occluded) or 2 (visible) unless confidences are meant", "visibility-fraction"),
        ("out_img", error, "labelled keypoint(s) outside the image", "coordinates are pixels in the image",
         "kpt-outside-image"),
        ("out_box", warning, "labelled keypoint(s) outside the box", "widen the box or check the keypoint",
         "kpt-outside-box"),
        ("zero", warning, "keypoint(s) with visibility 0 have non-zero coordinates",
         "unlabelled keypoints are usually written 0, 0, 0; MMPose ignores them", "kpt-invisible-coords"),
    )
    for key, make, text, hint, code in rules:
        mask = masks.get(key)
        if mask is None:
            continue
        for r in np.flatnonzero(mask.any(axis=1)):
            where, label = rows[r]
            k = _first(mask[r])
            n = int(mask[r].sum())
            what = describe(k, names, kpts[r, k])
            what += f", visibility {kpts[r, k, 2]:g}" if key.startswith("vis") else ""
            more = f" and {n - 1} more" if n > 1 else ""
            at = field_at(r, k) if field_at is not None else fld
            problems.append(make(file, f"{where}.{at}", f"{label}: {n} {text}: {what}{more}", hint, code))
    return problems


def check_keypoint_groups(groups: dict, file: str, add: Callable[[Problem], None]) -> int:
    """COCO rules for groups ``{(field, K, names): [(where, label, ann, kpts, size, box), ...]}``.

    Returns:
        The number of labelled (v > 0) keypoints.
    """
    labelled = 0
    for (fld, k, names), rows in groups.items():
        def bad_row(i: int, what: str, rows=rows, fld=fld) -> None:
            where, label = rows[i][:2]
            add(error(file, f"{where}.{fld}", f"{label}: {fld} {what}", "x, y, visibility are plain JSON numbers "
                      "(no quotes, no NaN/inf)", "keypoints-type"))

        arr, keep = to_array([r[3] for r in rows], 3 * k, bad_row)
        kept = [rows[i] for i in keep]
        kpts = arr.reshape(len(kept), k, 3)
        masks = scan(kpts, [r[4] for r in kept], [r[5] for r in kept], (0, 1, 2))
        field_at = _source_field(fld, kept) if "+" in fld else None
        for p in masks_to_problems(masks, kpts, [r[:2] for r in kept], names, file, fld, (0, 1, 2), field_at):
            add(p)
        counts = masks["labelled"].sum(axis=1)
        labelled += int(counts.sum())
        num_field = "num_" + fld
        for (where, label, ann, *_), count in zip(kept, counts.tolist(), strict=True):
            num = ann.get(num_field)
            if num is not None and num != count:
                add(error(file, f"{where}.{num_field}", f"{label}: {num_field} is {num!r} but {count} "
                          "keypoints have v > 0", f"set {num_field} to {count} (MMPose drops those with 0)",
                          "num-keypoints"))
    return labelled


def _source_field(fld: str, rows: list) -> Callable[[int, int], str]:
    """For keypoints concatenated from several arrays (COCO-WholeBody's ``keypoints+foot_kpts+...``): the array
    that holds keypoint k of row r, so that a problem points at ``face_kpts`` rather than the concatenation."""
    names = fld.split("+")

    def at(r: int, k: int) -> str:
        ann = rows[r][2]
        for name in names:
            if k < len(ann[name]) // 3:
                return name
            k -= len(ann[name]) // 3
        return fld

    return at
