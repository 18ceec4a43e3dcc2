"""Draw poses, heatmaps and contact sheets on BGR images with numpy + cv2 only (no torch, no matplotlib).

Colours follow MMPose's metainfo (RGB there, BGR here) and its two skeleton styles, so a drawing matches what
MMPose's ``PoseLocalVisualizer`` shows, for any skeleton: 8 car points, 17 COCO points, 133 wholebody points.
"""

from __future__ import annotations

import importlib.util
import math
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

BBOX_COLOR = (0, 255, 0)  # MMPose's default bbox colour, 'green'
DEFAULT_COLOR = (255, 255, 255)  # a point or link without a colour in the metainfo
_BIG = 1 << 20  # cv2 takes int coordinates; far-away points are clamped so that they cannot overflow


def draw_pose(
    image_bgr: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None,
    metainfo: dict,
    *,
    bboxes: np.ndarray | None = None,
    kpt_thr: float = 0.3,
    radius: int = 3,
    thickness: int = 1,
    show_kpt_idx: bool = False,
    skeleton_style: str = "mmpose",
    draw_bbox: bool = False,
) -> np.ndarray:
    """Draw N instances' keypoints (N,K,2) and skeleton links on a copy of ``image_bgr``.

    A point is invisible when its score is below ``kpt_thr`` or its coordinates are NaN; a link with an
    invisible end is not drawn. ``scores=None`` means every finite point is visible. ``skeleton_style``
    'openpose' draws links as filled ellipses; for COCO (17) and COCO-WholeBody (133) it also adds the neck and
    uses OpenPose's colours, as MMPose does.
    """
    if skeleton_style not in ("mmpose", "openpose"):
        raise ValueError(f"skeleton_style must be 'mmpose' or 'openpose', got {skeleton_style!r}")
    image = _as_bgr(image_bgr).copy()
    kpts = np.asarray(keypoints, dtype=np.float64)
    if kpts.ndim == 2:  # one instance given as (K, 2)
        kpts = kpts[None]
    if kpts.ndim != 3 or kpts.shape[-1] != 2:
        raise ValueError(f"keypoints must have shape (N, K, 2), got {np.shape(keypoints)}")
    n, k = kpts.shape[:2]
    vis = np.ones((n, k)) if scores is None else np.asarray(scores, dtype=np.float64).reshape(n, k)

    if draw_bbox and bboxes is not None:
        for box in np.asarray(bboxes, dtype=np.float64).reshape(-1, 4):
            if np.all(np.isfinite(box)):
                x1, y1, x2, y2 = (int(round(v)) for v in np.clip(box, -_BIG, _BIG))
                cv2.rectangle(image, (x1, y1), (x2, y2), BBOX_COLOR, max(1, thickness), cv2.LINE_8)
    if n == 0 or k == 0:
        return image

    style = _style(metainfo, k, skeleton_style)
    if style.to_openpose:
        kpts, vis = _to_openpose(kpts, vis, kpt_thr)
    for points, visible in zip(kpts, vis, strict=True):
        shown = np.isfinite(points).all(axis=1) & (visible >= kpt_thr)
        pts = np.clip(np.nan_to_num(points), -_BIG, _BIG)
        for link_id, (a, b) in enumerate(style.links):
            if a >= len(pts) or b >= len(pts) or not (shown[a] and shown[b]):
                continue
            color = _color(style.link_colors, link_id)
            if color is None:
                continue
            if skeleton_style == "openpose" and link_id < style.body_links:
                _draw_limb(image, pts[a], pts[b], color, max(1, thickness))
            else:
                width = 2 if skeleton_style == "openpose" else max(1, thickness)
                cv2.line(image, _pt(pts[a]), _pt(pts[b]), color, width, cv2.LINE_AA)
        for kid, point in enumerate(pts):
            color = _color(style.kpt_colors, kid)
            if not shown[kid] or color is None:
                continue
            if skeleton_style == "openpose" and color == (0, 0, 0):
                continue  # OpenPose's wholebody colours mark unused points black, and MMPose skips them
            r = radius // 2 if skeleton_style == "openpose" and kid > 17 else radius
            cv2.circle(image, _pt(point), max(1, r), color, -1, cv2.LINE_AA)
            if show_kpt_idx:
                cv2.putText(image, str(kid), _pt(point + (radius, -radius)), cv2.FONT_HERSHEY_SIMPLEX,
                            max(0.3, radius / 8), color, 1, cv2.LINE_AA)
    return image


def draw_heatmap(image_bgr: np.ndarray, heatmaps: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """Overlay the maximum over keypoints of ``heatmaps`` (K,h,w) or (h,w), resized to the image, as a jet map."""
    image = _as_bgr(image_bgr)
    maps = np.asarray(heatmaps, dtype=np.float32)
    if maps.ndim == 3:
        maps = maps.max(axis=0) if len(maps) else np.zeros(maps.shape[1:], np.float32)
    if maps.ndim != 2 or maps.size == 0:
        raise ValueError(f"heatmaps must have shape (K, h, w) or (h, w), got {np.shape(heatmaps)}")
    maps = np.nan_to_num(maps)
    lo, hi = float(maps.min()), float(maps.max())
    norm = (maps - lo) / (hi - lo) if hi > lo else np.zeros_like(maps)
    norm = cv2.resize(norm, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    colored = cv2.applyColorMap(np.clip(norm * 255, 0, 255).astype(np.uint8), cv2.COLORMAP_JET)
    return cv2.addWeighted(image, 1.0 - alpha, colored, alpha, 0)


def contact_sheet(
    images: list[np.ndarray], cols: int = 4, cell: int = 256, labels: list[str] | None = None
) -> np.ndarray:
    """Tile images into a grid of ``cell`` x ``cell`` squares (aspect kept, dark padding), with optional labels."""
    if not images:
        raise ValueError("contact_sheet needs at least one image")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(labels)} labels for {len(images)} images")
    cols = max(1, min(cols, len(images)))
    rows = math.ceil(len(images) / cols)
    sheet = np.full((rows * cell, cols * cell, 3), 32, np.uint8)
    for i, img in enumerate(images):
        img = _as_bgr(img)
        h, w = img.shape[:2]
        scale = cell / max(h, w, 1)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        y0, x0 = (i // cols) * cell + (cell - nh) // 2, (i % cols) * cell + (cell - nw) // 2
        sheet[y0:y0 + nh, x0:x0 + nw] = small
        if labels is not None and labels[i]:
            _label(sheet, str(labels[i]), (i % cols) * cell, (i // cols) * cell, cell)
    return sheet


# ---------------------------------------------------------------------------------------------------------------


class _Style:
    """Links and BGR colours to draw with, from a metainfo (or OpenPose's metainfo for COCO / wholebody)."""

    def __init__(self, links, kpt_colors, link_colors, to_openpose=False, body_links=None):
        self.links = [(int(a), int(b)) for a, b in links]
        self.kpt_colors = kpt_colors
        self.link_colors = link_colors
        self.to_openpose = to_openpose
        self.body_links = len(self.links) if body_links is None else body_links


def _style(metainfo: dict, num_keypoints: int, skeleton_style: str) -> _Style:
    metainfo = metainfo or {}
    if skeleton_style == "openpose":
        name = str(metainfo.get("dataset_name", ""))
        if num_keypoints in (17, 133) and name in ("", "coco", "coco_wholebody"):
            info = _openpose_info("coco_openpose" if num_keypoints == 17 else "coco_wholebody_openpose")
            if info is not None:
                return _Style(info["links"], info["kpt_colors"], info["link_colors"], True, body_links=17)
    return _Style(
        metainfo.get("skeleton_links") or [],
        _bgr_list(metainfo.get("keypoint_colors")),
        _bgr_list(metainfo.get("skeleton_link_colors")),
    )


def _bgr_list(colors) -> list | None:
    if colors is None:
        return None
    out = []
    for c in colors:
        c = np.asarray(c).reshape(-1)
        out.append(None if c.size < 3 else (int(c[2]), int(c[1]), int(c[0])))
    return out


def _color(colors, i: int):
    if colors is None or i >= len(colors):
        return DEFAULT_COLOR
    return colors[i]


@lru_cache(maxsize=4)
def _openpose_info(name: str) -> dict | None:
    """OpenPose colours and links from the metainfo file shipped with MMPose (read without importing mmpose)."""
    spec = importlib.util.find_spec("mmpose")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / ".mim" / "configs" / "_base_" / "datasets"
    path = path / f"{name}.py"
    if not path.is_file():
        return None
    from mmpx.metainfo import load_metainfo

    info = load_metainfo(path)  # parsed, never executed
    kinfo = [info["keypoint_info"][i] for i in sorted(info["keypoint_info"])]
    ids = {k["name"]: k["id"] for k in kinfo}
    sinfo = [info["skeleton_info"][i] for i in sorted(info["skeleton_info"])]
    return {
        "links": [(ids[s["link"][0]], ids[s["link"][1]]) for s in sinfo],
        "kpt_colors": _bgr_list([k["color"] for k in kinfo]),
        "link_colors": _bgr_list([s["color"] for s in sinfo]),
    }


def _to_openpose(kpts: np.ndarray, vis: np.ndarray, kpt_thr: float):
    """COCO order to OpenPose order with a neck at index 1 (mean of the shoulders), as MMPose's visualizer does."""
    neck = kpts[:, [5, 6]].mean(axis=1, keepdims=True)
    neck_vis = ((vis[:, 5] > kpt_thr) & (vis[:, 6] > kpt_thr)).astype(np.float64)[:, None]
    kpts = np.concatenate([kpts[:, :17], neck, kpts[:, 17:]], axis=1)
    vis = np.concatenate([vis[:, :17], neck_vis, vis[:, 17:]], axis=1)
    src = [17, 6, 8, 10, 7, 9, 12, 14, 16, 13, 15, 2, 1, 4, 3]
    dst = [1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15, 16, 17]
    kpts[:, dst], vis[:, dst] = kpts[:, src], vis[:, src]
    return kpts, vis


def _draw_limb(image: np.ndarray, p1, p2, color, width: int) -> None:
    """OpenPose's limb: a filled ellipse between the two points, blended at 0.6."""
    (x1, y1), (x2, y2) = p1, p2
    length = math.hypot(x2 - x1, y2 - y1)
    angle = math.degrees(math.atan2(y1 - y2, x1 - x2))
    poly = cv2.ellipse2Poly((int((x1 + x2) / 2), int((y1 + y2) / 2)), (int(length / 2), width), int(angle), 0, 360, 1)
    x0, y0 = np.maximum(poly.min(axis=0) - 1, 0)
    xe, ye = poly.max(axis=0) + 2
    if xe <= x0 or ye <= y0 or x0 >= image.shape[1] or y0 >= image.shape[0]:
        return
    roi = image[y0:ye, x0:xe]
    layer = roi.copy()
    cv2.fillConvexPoly(layer, poly - (x0, y0), color, cv2.LINE_AA)
    cv2.addWeighted(layer, 0.6, roi, 0.4, 0, dst=roi)


def _label(sheet: np.ndarray, text: str, x: int, y: int, cell: int) -> None:
    scale = max(0.35, cell / 512)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    while tw > cell - 6 and len(text) > 4:  # shorten from the left: the end of a path is what tells files apart
        text = "..." + text[4:]
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(sheet, (x, y), (x + min(cell, tw + 6) - 1, y + th + base + 4), (0, 0, 0), -1)
    cv2.putText(sheet, text, (x + 3, y + th + 2), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)


def _pt(p) -> tuple[int, int]:
    return int(round(float(p[0]))), int(round(float(p[1])))


def _as_bgr(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR image, got shape {image.shape}")
    return image
