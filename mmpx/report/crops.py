"""The gallery's pictures: an instance's crop with the ground truth and a prediction drawn in two colours, as a
JPEG data URI (the page needs no file beside it)."""

from __future__ import annotations

import base64
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

GT_COLOR = (60, 200, 0)  # BGR green: the ground truth, hollow rings
PRED_COLOR = (255, 0, 220)  # BGR magenta: the prediction, filled dots (green/magenta tell apart for most eyes)
WORST_COLOR = (0, 230, 255)  # BGR yellow: the worst keypoint's error, GT to prediction
SIZE = 200  # the crop's longer side in pixels


@lru_cache(maxsize=16)
def _image(path: str):
    """The image (BGR) or None; decoded only after its header passes the pixel limit (MMPX_MAX_IMAGE_PIXELS)."""
    from mmpx.check.images import decode_image

    return decode_image(Path(path))[0]


def image_path(images: Path | None, file_name: str) -> Path | None:
    """``images / file_name`` when it stays inside ``images`` (a GT file cannot point the page elsewhere)."""
    from mmpx.convert.paths import abs_root, inside

    if images is None:
        return None
    path = images / file_name
    return path if inside(abs_root(images), path) and path.is_file() else None


def _region(bbox, points: np.ndarray, shape) -> tuple[int, int, int, int]:
    """The GT box grown by a quarter, widened to show predictions that fell outside it, inside the image."""
    h, w = shape[:2]
    x, y, bw, bh = (float(v) for v in bbox)
    cx, cy, half_w, half_h = x + bw / 2, y + bh / 2, max(bw, 8) * 0.625, max(bh, 8) * 0.625
    x0, y0, x1, y1 = cx - half_w, cy - half_h, cx + half_w, cy + half_h
    pts = points[np.isfinite(points).all(1)]
    if len(pts):
        x0, y0 = min(x0, pts[:, 0].min() - 4), min(y0, pts[:, 1].min() - 4)
        x1, y1 = max(x1, pts[:, 0].max() + 4), max(y1, pts[:, 1].max() + 4)
    x0, y0 = int(max(0, np.floor(x0))), int(max(0, np.floor(y0)))
    x1, y1 = int(min(w, np.ceil(x1))), int(min(h, np.ceil(y1)))
    return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else (0, 0, w, h)


def _skeleton(canvas, xy, shown, links, color) -> None:
    for a, b in links:
        if a < len(xy) and b < len(xy) and shown[a] and shown[b]:
            cv2.line(canvas, _pt(xy[a]), _pt(xy[b]), color, 1, cv2.LINE_AA)


def _pt(p) -> tuple[int, int]:
    return int(round(float(np.clip(p[0], -1e5, 1e5)))), int(round(float(np.clip(p[1], -1e5, 1e5))))


def draw_case(image: np.ndarray, bbox, gt_xy: np.ndarray, gt_vis: np.ndarray, pred_xy: np.ndarray | None,
              links, worst: int = -1) -> np.ndarray:
    """Crop ``image`` around an instance and draw GT (green rings) and prediction (magenta dots) on it.

    Args:
        gt_xy, gt_vis: (K, 2) GT keypoints and which are labelled. pred_xy: (K, 2) prediction, None if none.
        links: skeleton links (index pairs). worst: keypoint whose error is drawn as a yellow line (-1: none).
    """
    pred_shown = None if pred_xy is None else np.isfinite(pred_xy).all(1)
    points = gt_xy[gt_vis] if pred_xy is None else np.concatenate([gt_xy[gt_vis], pred_xy[pred_shown]])
    x0, y0, x1, y1 = _region(bbox, points, image.shape)
    scale = SIZE / max(x1 - x0, y1 - y0)
    crop = cv2.resize(image[y0:y1, x0:x1], (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale))),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)

    def to_crop(xy):
        return (xy - (x0, y0)) * scale

    gt = to_crop(gt_xy)
    _skeleton(crop, gt, gt_vis, links, GT_COLOR)
    pred = to_crop(pred_xy) if pred_xy is not None else None
    if pred is not None:
        _skeleton(crop, pred, pred_shown, links, PRED_COLOR)
    for p in gt[gt_vis]:  # a dark edge keeps each mark visible on any background
        cv2.circle(crop, _pt(p), 6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.circle(crop, _pt(p), 6, GT_COLOR, 2, cv2.LINE_AA)
    if pred is not None:  # on top: a dot inside its ring is a good prediction
        if worst >= 0 and gt_vis[worst] and pred_shown[worst]:
            cv2.line(crop, _pt(gt[worst]), _pt(pred[worst]), WORST_COLOR, 2, cv2.LINE_AA)
        for p in pred[pred_shown]:
            cv2.circle(crop, _pt(p), 4, (0, 0, 0), -1, cv2.LINE_AA)
            cv2.circle(crop, _pt(p), 3, PRED_COLOR, -1, cv2.LINE_AA)
    return crop


def jpeg_uri(image: np.ndarray, quality: int = 80) -> str:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cv2 could not encode the crop as JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(data.tobytes()).decode("ascii")


def case_uri(images: Path | None, file_name: str, bbox, gt_xy, gt_vis, pred_xy, links, worst: int = -1) -> str | None:
    """The drawn crop as a data URI, or None when the image cannot be found or read."""
    path = image_path(images, file_name)
    image = _image(str(path)) if path is not None else None
    if image is None:
        return None
    return jpeg_uri(draw_case(image, bbox, gt_xy, gt_vis, pred_xy, links, worst))
