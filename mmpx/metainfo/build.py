"""Build an MMPose ``dataset_info`` dict from keypoint names; read a COCO file's keypoint category (the metainfo of
a whole COCO file is :mod:`mmpx.metainfo.coco`'s)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mmpx.errors import MmpxError
from mmpx.metainfo.names import infer_swaps, side_of

# MMPose's convention: left green, right orange, centre blue
LEFT_COLOR, RIGHT_COLOR, CENTER_COLOR = [0, 255, 0], [255, 128, 0], [51, 153, 255]
# Default OKS sigma for keypoints of a new dataset: COCO's smallest body sigmas are 0.025 (eyes/nose) and the
# largest 0.107 (hips); 0.025 is strict, so an AP on a new dataset is never flattered. Override per keypoint.
DEFAULT_SIGMA = 0.025

def build_metainfo(
    dataset_name: str,
    keypoints: Sequence[str],
    skeleton: Sequence[tuple[str, str]] = (),
    swaps: dict[str, str] | None = None,
    sigmas: Sequence[float] | None = None,
    joint_weights: Sequence[float] | None = None,
) -> dict:
    """An MMPose ``dataset_info`` dict.

    Args:
        dataset_name: a short name.
        keypoints: keypoint names, in annotation order.
        skeleton: pairs of keypoint names to draw as links.
        swaps: left/right partners; inferred from the names when None.
        sigmas: OKS sigma per keypoint (default :data:`DEFAULT_SIGMA`).
        joint_weights: loss weight per keypoint (default 1.0).

    Raises:
        MmpxError: duplicate names, a skeleton or swap naming an unknown keypoint, wrong lengths.
    """
    keypoints = list(keypoints)
    if len(set(keypoints)) != len(keypoints):
        dupes = sorted({k for k in keypoints if keypoints.count(k) > 1})
        raise MmpxError(f"duplicate keypoint names: {', '.join(dupes)}", "every keypoint needs a unique name")
    swaps = infer_swaps(keypoints) if swaps is None else dict(swaps)
    known = set(keypoints)
    for a, b in list(swaps.items()):
        if a not in known or b not in known:
            raise MmpxError(f"swap pair {a!r}/{b!r} names an unknown keypoint",
                            f"keypoints are: {', '.join(keypoints)}")
        swaps.setdefault(b, a)
    for link in skeleton:
        unknown = [n for n in link if n not in known]
        if len(link) != 2 or unknown:
            raise MmpxError(f"skeleton link {tuple(link)!r} names unknown keypoint(s) {unknown}",
                            f"keypoints are: {', '.join(keypoints)}")
    for label, values in (("sigmas", sigmas), ("joint_weights", joint_weights)):
        if values is not None and len(values) != len(keypoints):
            raise MmpxError(f"{label} has {len(values)} values for {len(keypoints)} keypoints",
                            f"give one {label[:-1]} per keypoint")

    def color(name: str) -> list[int]:
        side = side_of(name)
        return {"left": LEFT_COLOR, "right": RIGHT_COLOR}.get(side, CENTER_COLOR)

    keypoint_info = {
        i: dict(name=name, id=i, color=color(name), type="", swap=swaps.get(name, ""))
        for i, name in enumerate(keypoints)
    }
    skeleton_info = {
        i: dict(link=(a, b), id=i, color=color(a) if color(a) == color(b) else CENTER_COLOR)
        for i, (a, b) in enumerate(skeleton)
    }
    return dict(
        dataset_name=dataset_name,
        paper_info=dict(),
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[float(w) for w in (joint_weights or [1.0] * len(keypoints))],
        sigmas=[float(s) for s in (sigmas or [DEFAULT_SIGMA] * len(keypoints))],
    )



def keypoint_names(info: dict) -> list[str]:
    """Keypoint names in id order."""
    entries = sorted(info.get("keypoint_info", {}).values(), key=lambda kp: kp.get("id", 0))
    return [kp["name"] for kp in entries]


def _read_json(path: Path):
    import json

    if not path.is_file():
        raise MmpxError(f"annotation file {path} does not exist",
                        "give the path of a COCO keypoint .json file")
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise MmpxError(f"{path}: not valid JSON ({exc})",
                        "check the file is complete (not truncated)") from None


def keypoint_category(data: dict, path: Path, category_id: int | None = None) -> dict:
    """The one category of a COCO file that lists keypoints (``category_id`` picks one of several)."""
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
    return cats[0]
