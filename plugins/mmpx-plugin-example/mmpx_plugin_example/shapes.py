"""Synthetic "kite" samples: one function draws a sample, shared by the dataset class and the converter.

Pure NumPy and OpenCV (no torch, no mmpose), so ``mmpx convert example-shapes`` starts fast.

Each image shows one kite (a quadrilateral with a short top and a long bottom) on a noisy background, rotated
by up to 30 degrees. Its 4 corners are the keypoints, each with its own marker so that the identity of every
corner is visible: a circle at the top, a square at the bottom and outward-pointing triangles at the left and
right. The left and right triangles share a colour and mirror each other, so a horizontally flipped image is
again a valid sample once ``left`` and ``right`` are swapped (what ``RandomFlip`` and flip testing do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEYPOINT_NAMES = ("top", "left", "right", "bottom")

METAINFO = dict(
    dataset_name="example_shapes",
    keypoint_info={
        0: dict(name="top", id=0, color=[255, 255, 255], type="upper", swap=""),
        1: dict(name="left", id=1, color=[255, 0, 255], type="upper", swap="right"),
        2: dict(name="right", id=2, color=[255, 0, 255], type="upper", swap="left"),
        3: dict(name="bottom", id=3, color=[255, 255, 0], type="lower", swap=""),
    },
    skeleton_info={
        0: dict(link=("top", "left"), id=0, color=[0, 255, 0]),
        1: dict(link=("top", "right"), id=1, color=[0, 255, 0]),
        2: dict(link=("left", "bottom"), id=2, color=[255, 128, 0]),
        3: dict(link=("right", "bottom"), id=3, color=[255, 128, 0]),
    },
    joint_weights=[1.0, 1.0, 1.0, 1.0],
    # OKS sigmas as strict as COCO's eyes: the corners are sharp, so AP keeps telling better models apart
    sigmas=[0.025, 0.025, 0.025, 0.025],
)

CATEGORY = dict(
    id=1,
    name="kite",
    supercategory="shape",
    keypoints=list(KEYPOINT_NAMES),
    # COCO skeletons are 1-based keypoint indices
    skeleton=[[1, 2], [1, 3], [2, 4], [3, 4]],
)

# BGR colours of the corner markers (METAINFO colours are RGB, for the visualizer); left and right share one
# so that flips stay consistent
_TOP_BGR, _SIDE_BGR, _BOTTOM_BGR = (255, 255, 255), (255, 0, 255), (0, 255, 255)


@dataclass(frozen=True)
class ShapeSample:
    """One drawn sample.

    Args:
        img: ``(H, W, 3)`` uint8 BGR image, as ``cv2.imread`` returns.
        keypoints: ``(4, 2)`` float32 corner coordinates, in :data:`KEYPOINT_NAMES` order.
        bbox: ``[x, y, w, h]`` box around the kite and its markers, inside the image.
    """

    img: np.ndarray
    keypoints: np.ndarray
    bbox: list[float]


def _triangle(tip: np.ndarray, direction: np.ndarray, size: float) -> np.ndarray:
    """A filled triangle pointing along ``direction`` with its tip at ``tip``."""
    normal = np.array([-direction[1], direction[0]])
    base = tip - direction * size * 1.6
    return np.stack([tip, base + normal * size, base - normal * size])


def draw_sample(seed: int, index: int, img_size: int = 96) -> ShapeSample:
    """Draw sample ``index`` of the synthetic set ``seed``.

    A sample depends only on ``(seed, index, img_size)``, so the first ``n`` samples of a bigger set are the
    same as a set of ``n``.

    Args:
        seed: seed of the whole set.
        index: index of the sample in the set.
        img_size: width and height of the square image, at least 32.

    Returns:
        The image, the 4 keypoints and the bounding box.
    """
    import cv2

    if img_size < 32:
        raise ValueError(f"img_size must be at least 32, got {img_size}")
    rng = np.random.default_rng([seed, index])
    s = float(img_size)
    half_w, top, bottom = s * rng.uniform([0.12, 0.10, 0.22], [0.22, 0.18, 0.32])  # bottom longer: a kite
    angle = np.deg2rad(rng.uniform(-30, 30))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    local = np.array([[0, -top], [-half_w, 0], [half_w, 0], [0, bottom]])
    corners = local @ rot.T
    marker = max(2.0, 0.045 * s)
    margin = 2 * marker + 1
    low, high = margin - corners.min(0), s - margin - corners.max(0)
    kpts = (corners + rng.uniform(low, np.maximum(low, high))).astype(np.float32)

    base = rng.integers(0, 90, 3)
    img = np.clip(base + rng.normal(0, 25, (img_size, img_size, 3)), 0, 255).astype(np.uint8)
    body = tuple(int(c) for c in rng.integers(60, 200, 3))
    outline = kpts[[0, 2, 3, 1]]  # top, right, bottom, left: around the kite, not across it
    cv2.fillPoly(img, [np.round(outline).astype(np.int32)], body, lineType=cv2.LINE_AA)

    top_pt, left_pt, right_pt, bottom_pt = kpts.astype(np.float64)
    centre = kpts.mean(0)
    cv2.circle(img, tuple(int(v) for v in np.round(top_pt)), int(round(marker)), _TOP_BGR, -1, cv2.LINE_AA)
    half = marker * 0.9
    cv2.rectangle(img, tuple(int(v) for v in np.round(bottom_pt - half)),
                  tuple(int(v) for v in np.round(bottom_pt + half)), _BOTTOM_BGR, -1)
    for pt in (left_pt, right_pt):
        direction = (pt - centre) / max(np.linalg.norm(pt - centre), 1e-6)
        tri = _triangle(pt + direction * marker * 0.8, direction, marker)
        cv2.fillPoly(img, [np.round(tri).astype(np.int32)], _SIDE_BGR, lineType=cv2.LINE_AA)

    x0, y0 = np.clip(kpts.min(0) - margin, 0, s - 1)
    x1, y1 = np.clip(kpts.max(0) + margin, 0, s - 1)
    return ShapeSample(img=img, keypoints=kpts, bbox=[float(x0), float(y0), float(x1 - x0), float(y1 - y0)])


def coco_annotation(sample: ShapeSample, index: int) -> dict:
    """The COCO keypoint annotation of sample ``index`` (ids start at 1, as in COCO files)."""
    x, y, w, h = sample.bbox
    keypoints = []
    for px, py in sample.keypoints.tolist():
        keypoints += [round(px, 2), round(py, 2), 2]
    return dict(id=index + 1, image_id=index + 1, category_id=CATEGORY["id"], iscrowd=0,
                bbox=[round(v, 2) for v in (x, y, w, h)], area=round(w * h, 2),
                num_keypoints=len(KEYPOINT_NAMES), keypoints=keypoints)


def file_name(index: int) -> str:
    """The image file name of sample ``index``, as the converter writes it."""
    return f"{index:06d}.png"
