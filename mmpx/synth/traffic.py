"""A synthetic traffic clip: cars driving along known straight paths across a road, two of them crossing once,
with the ground truth of every frame (boxes and the 8 car keypoints of each car). For the tracking tests, the
video benchmark and the docs' pictures.

Examples:
    >>> from mmpx.synth.traffic import traffic_clip
    >>> clip = traffic_clip(frames=24, cars=3, seed=0)
    >>> clip.boxes.shape, clip.keypoints.shape      # (frames, cars, 4) xyxy, (frames, cars, 8, 2)
    ((24, 3, 4), (24, 3, 8, 2))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from mmpx.atomic import atomic_path
from mmpx.errors import MmpxError
from mmpx.synth._car import Camera, Car
from mmpx.synth._scene import car_outline, draw_car


@dataclass
class TrafficClip:
    """Frames (BGR) and, per frame and car, the box (x0, y0, x1, y1) and keypoints (8, 2) drawn.

    ``background`` is the empty road (what a background-subtraction detector compares with); ``crossing`` is
    the frame at which the first two cars' centres pass each other.
    """

    frames: list[np.ndarray] = field(repr=False)
    boxes: np.ndarray
    keypoints: np.ndarray
    fps: float
    background: np.ndarray = field(repr=False)
    crossing: int
    hues: list[int] = field(default_factory=list)  # each car's body hue (OpenCV HSV, 0-179)


def _road(width: int, height: int) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = (92, 96, 98)
    img[: height // 5] = (190, 160, 120)  # sky-ish band
    img[height // 5: height // 5 + 4] = (70, 120, 80)
    for y in (int(height * 0.52), int(height * 0.78)):
        for x in range(0, width, 40):
            cv2.line(img, (x, y), (x + 20, y), (225, 225, 225), 2)
    return img


def traffic_clip(frames: int = 48, cars: int = 3, width: int = 320, height: int = 240, fps: float = 12.0,
                 seed: int = 0) -> TrafficClip:
    """Cars seen from the side: car 0 drives right, car 1 drives left on the lane just below (so the two cross
    once, car 1 in front), the others drive slower on the lower lane, apart from each other (up to 4 cars stay
    in view all along).

    Args:
        frames: number of frames.
        cars: number of cars (2 or more).
        width, height: frame size in pixels.
        fps: frame rate stored in the clip.
        seed: the cars' shapes and colours.
    """
    if cars < 2 or frames < 2 or width < 96 or height < 96:
        raise MmpxError(f"traffic_clip: cars={cars}, frames={frames}, size={width}x{height}",
                        "cars >= 2, frames >= 2, width and height >= 96")
    rng = np.random.default_rng(seed)
    models = [Car.random(rng) for _ in range(cars)]
    palette = (45, 100, 150, 75, 125, 30, 170)  # away from the amber markers (17) and red lights (0)
    hues = [palette[i % len(palette)] for i in range(cars)]
    for hue, model in zip(hues, models, strict=True):  # saturated colours, well apart from the grey road
        model.color = tuple(int(v) for v in cv2.cvtColor(np.uint8([[[hue, 200, 200]]]), cv2.COLOR_HSV2BGR)[0, 0])
    car_w = 0.3 * width
    t = np.linspace(0, 1, frames)
    # centre paths (x, y) per car; y grows downwards: a larger y is nearer the camera, drawn later
    paths = [np.stack([0.12 * width + t * 0.76 * width, np.full(frames, 0.43 * height)], 1),
             np.stack([0.88 * width - t * 0.76 * width, np.full(frames, 0.5 * height)], 1)]
    lower = cars - 2
    for j in range(lower):  # the lower lane: 1.4 car lengths apart, all driving right at the same speed
        start = 0.2 * width + j * 1.4 * car_w
        paths.append(np.stack([start + t * 0.22 * width, np.full(frames, 0.72 * height)], 1))
    light = np.array([0.3, -0.5, 1.5])
    light /= np.linalg.norm(light)
    road = _road(width, height)
    out_frames, boxes, kpts = [], np.zeros((frames, cars, 4)), np.zeros((frames, cars, 8, 2))
    heading = [1, -1] + [1] * lower
    for f in range(frames):
        img = road.copy()
        layer = np.zeros((height, width), np.uint8)
        for c in sorted(range(cars), key=lambda c: paths[c][f, 1]):  # far cars first
            cam = Camera(np.deg2rad(90 if heading[c] > 0 else -90), np.deg2rad(12), 10.0)
            uv = cam.project(car_outline(models[c]))
            if (cam.project(models[c].keypoints()[:1])[0, 0] > uv[:, 0].mean()) != (heading[c] > 0):
                cam = Camera(np.deg2rad(-90 if heading[c] > 0 else 90), np.deg2rad(12), 10.0)
                uv = cam.project(car_outline(models[c]))
            scale = car_w / np.ptp(uv[:, 0])
            cam.affine = (scale, paths[c][f] - scale * (uv.min(0) + uv.max(0)) / 2)
            draw_car(img, layer, models[c], cam, light, c + 1)
            outline = cam.project(car_outline(models[c]))
            boxes[f, c] = (*outline.min(0), *outline.max(0))
            kpts[f, c] = cam.project(models[c].keypoints())
        out_frames.append(img)
    crossing = int(np.argmin(np.abs(paths[0][:, 0] - paths[1][:, 0])))
    return TrafficClip(out_frames, boxes, kpts, fps, road, crossing, hues)


VIDEO_SUFFIXES = (".mp4", ".avi")


def check_video_path(path: str | Path) -> Path:
    """``path`` if it names a video this module can write (``.mp4`` or ``.avi``)."""
    path = Path(path)
    if path.suffix.lower() not in VIDEO_SUFFIXES:
        raise MmpxError(f"{path}: cannot write a {path.suffix or 'suffix-less'} video", "name it .mp4 or .avi")
    return path


def write_video(clip: TrafficClip, path: str | Path) -> Path:
    """Write the frames as a video (``.avi``: MJPG, ``.mp4``: mp4v) and return its path. The file appears whole
    or not at all (written beside it, then renamed)."""
    path = check_video_path(path)
    h, w = clip.frames[0].shape[:2]
    fourcc = cv2.VideoWriter_fourcc(*("MJPG" if path.suffix.lower() == ".avi" else "mp4v"))
    with atomic_path(path, suffix=path.suffix) as tmp:  # the suffix picks OpenCV's container
        writer = cv2.VideoWriter(str(tmp), fourcc, clip.fps, (w, h))
        if not writer.isOpened():
            raise MmpxError(f"cannot write video {path}: OpenCV has no {path.suffix} writer here",
                            "try the other of .mp4 and .avi")
        for frame in clip.frames:
            writer.write(frame)
        writer.release()
    return path


class BackgroundBoxes:
    """A box source without a model: the parts of each frame that differ from a known empty background.

    Cars that touch give one box between them, as a real detector's misses do. ``image -> (xyxy, scores)``.
    """

    name = "background subtraction"

    def __init__(self, background: np.ndarray, threshold: int = 30, min_area: int = 150) -> None:
        self.background = background.astype(np.int16)
        self.threshold = threshold
        self.min_area = min_area

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        diff = np.abs(image.astype(np.int16) - self.background).max(axis=2) > self.threshold
        mask = cv2.morphologyEx(diff.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))  # one blob per car
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        boxes = [(x, y, x + w, y + h) for x, y, w, h, area in stats[1:n] if area >= self.min_area]
        return np.asarray(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32)


class ColourBoxes:
    """A box source without a model: one box per car colour of a :class:`TrafficClip`, around the pixels of that
    hue (a car partly hidden by another gets the box of what shows). ``image -> (xyxy, scores)``."""

    name = "car colours"

    def __init__(self, hues: list[int], tolerance: int = 6, min_pixels: int = 40) -> None:
        self.hues = list(hues)
        self.tolerance = tolerance
        self.min_pixels = min_pixels

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
        hues, sat, val = (hsv[..., i].astype(np.int16) for i in range(3))
        boxes = []
        for hue in self.hues:
            gap = np.abs(hues - hue)
            mask = (np.minimum(gap, 180 - gap) <= self.tolerance) & (sat > 130) & (val > 40)
            mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
            _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
            big = stats[1:][stats[1:, 4] >= max(self.min_pixels, 0.15 * stats[1:, 4].max(initial=0))]
            if len(big):  # the car's patches (a car in front may cut it in two); stray pixels of its hue are not
                x0, y0 = big[:, 0].min(), big[:, 1].min()
                x1, y1 = (big[:, 0] + big[:, 2]).max(), (big[:, 1] + big[:, 3]).max()
                boxes.append((x0, y0, x1, y1))
        return np.asarray(boxes, np.float32).reshape(-1, 4), np.full(len(boxes), 0.9, np.float32)


__all__ = ["VIDEO_SUFFIXES", "BackgroundBoxes", "ColourBoxes", "TrafficClip", "check_video_path", "traffic_clip",
           "write_video"]
