"""Rules for MPII-style annotation files, as MMPose's ``MpiiDataset`` reads them.

The file is a JSON list of records with ``image``, ``joints`` (K x [x, y]), ``joints_vis`` (K x 0/1),
``center`` and ``scale`` (person height / 200 px), not COCO.
"""

from __future__ import annotations

from numbers import Real

from mmpx.check.coco import Findings
from mmpx.check.keypoints import masks_to_problems, scan, to_array
from mmpx.errors.problems import error

# MMPose's configs/_base_/datasets/mpii.py, for messages when no --metainfo is given
MPII_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis",
              "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder",
              "left_shoulder", "left_elbow", "left_wrist")
RECORD_KEYS = ("image", "joints", "joints_vis", "center", "scale")


def is_mpii(data) -> bool:
    """A non-empty list whose first entries look like MPII records."""
    return (isinstance(data, list) and bool(data)
            and all(isinstance(r, dict) and "joints" in r and "image" in r for r in data[:5]))


def image_refs(data: list) -> list[tuple[str, str, None]]:
    return [(f"[{i}].image", r["image"], None) for i, r in enumerate(data)
            if isinstance(r, dict) and isinstance(r.get("image"), str) and r["image"]]


def _num(v) -> bool:
    return isinstance(v, Real) and not isinstance(v, bool)


def _record_problem(r: dict, k: int) -> tuple[str, str, str] | None:
    """(field, message, hint) for the first structural problem of a record, else None."""
    missing = [key for key in RECORD_KEYS if key not in r]
    if missing:
        return "", f"missing {', '.join(missing)}", f"MPII records have {', '.join(RECORD_KEYS)}"
    stem = r["image"].rsplit(".", 1)[0] if isinstance(r["image"], str) else ""
    if not stem.isdigit():
        return ".image", f"image name {r['image']!r} is not a number", \
            "MpiiDataset takes the image id from the file name (int('004645041.jpg'[:-4]))"
    joints, vis = r["joints"], r["joints_vis"]
    if not isinstance(joints, list) or len(joints) != k or any(not isinstance(j, list) or len(j) != 2
                                                               for j in joints):
        n = len(joints) if isinstance(joints, list) else type(joints).__name__
        return ".joints", f"joints has {n} entries, expected {k} [x, y] pairs", "one [x, y] per keypoint"
    if not isinstance(vis, list) or len(vis) != k:
        n = len(vis) if isinstance(vis, list) else type(vis).__name__
        return ".joints_vis", f"joints_vis has {n} values, expected {k}", "one 0/1 per keypoint"
    c = r["center"]
    if not isinstance(c, list) or len(c) != 2 or not all(_num(v) for v in c):
        return ".center", f"center {c!r} is not [x, y]", "the person's centre in pixels"
    if not _num(r["scale"]) or r["scale"] <= 0:
        return ".scale", f"scale {r['scale']!r} is not a positive number", "person height / 200 px"
    return None


def check_mpii(data: list, file: str, meta_names: list[str] | None, real_sizes: dict) -> Findings:
    """Check MPII records; ``real_sizes`` maps image names to (width, height) read from the files (may be
    empty, then keypoints are not checked against the image)."""
    names = list(meta_names) if meta_names is not None else list(MPII_NAMES)
    k = len(names)
    out = Findings(annotations=len(data))
    out.images = len({r.get("image") for r in data if isinstance(r, dict)})
    out.notes.append(f"MPII format (a list of {len(data)} image/joints/joints_vis/center/scale records), "
                     f"{k} keypoints" + (" from the metainfo" if meta_names is not None else " (MPII's)"))
    rows, kept = [], []
    for i, r in enumerate(data):
        if not isinstance(r, dict):
            out.problems.append(error(file, f"[{i}]", "record is not an object", "", "record"))
            continue
        if found := _record_problem(r, k):
            fld, msg, hint = found
            out.problems.append(error(file, f"[{i}]{fld}", f"record {i}: {msg}", hint, "mpii-record"))
            continue
        rows.append([c for xy, v in zip(r["joints"], r["joints_vis"], strict=True) for c in (*xy, v)])
        kept.append(i)

    def bad_row(j: int, what: str) -> None:
        out.problems.append(error(file, f"[{kept[j]}].joints", f"record {kept[j]}: joints and joints_vis as "
                                  f"(x, y, v) triples: {what}", "plain JSON numbers only", "keypoints-type"))

    arr, keep = to_array(rows, 3 * k, bad_row)
    idx = [kept[j] for j in keep]
    kpts = arr.reshape(len(idx), k, 3)
    masks = scan(kpts, [real_sizes.get(data[i]["image"]) for i in idx], None, (0, 1))
    labels = [(f"[{i}]", f"record {i} ({data[i]['image']})") for i in idx]
    out.problems += masks_to_problems(masks, kpts, labels, names, file, "joints", (0, 1))
    out.keypoints = int(masks["labelled"].sum()) if len(idx) else 0
    return out


def describe_json(data) -> str:
    """A few words on what a JSON document that is neither COCO nor MPII looks like."""
    if isinstance(data, list):
        first = data[0] if data else None
        keys = sorted(first)[:8] if isinstance(first, dict) else type(first).__name__
        return f"a list of {len(data)} entries (first: {keys})"
    if isinstance(data, dict):
        return f"an object with keys {sorted(map(str, data))[:8]}"
    return f"a JSON {type(data).__name__}"

