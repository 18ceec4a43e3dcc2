"""A synthetic car-keypoint dataset in labelme format, drawn with numpy + cv2 (no torch, no mmpose).

Each car is a box-like 3D model projected by a pinhole camera, seen from the side, the front three-quarter,
the rear three-quarter (and sometimes straight from the front or rear), so which bumper corner and tire is
which follows from the geometry and can be seen: headlights and grille vs tail lights and plate, amber vs red
side markers, a long hood vs a short trunk; left and right follow from the yaw. Keypoints hidden by the car
itself or by something in front of it (an occluder or another car) are flagged ``occluded``; points outside
the image are left out.

Examples:
    >>> from mmpx.synth.carpose import synth_carpose
    >>> summary = synth_carpose("data/synth", n=200, seed=0)   # about 1-2 s for 200 images at 256x256
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mmpx.errors import MmpxError
from mmpx.synth._car import KEYPOINTS, Camera, Car
from mmpx.synth._output import write_set
from mmpx.synth._scene import KEYPOINT_FACES, background, car_outline, draw_car, occluder

__all__ = ["KEYPOINTS", "SynthSummary", "render_image", "synth_carpose", "to_labelme"]

LABELME_VERSION = "5.4.1"
CAR_LABEL = "car"
# (centre azimuth in degrees, spread, weight); 0 = seen from the front, 90 = from the car's left side
_VIEWS = ((90, 20, 0.3), (45, 18, 0.3), (135, 18, 0.3), (0, 15, 0.05), (180, 15, 0.05))


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`synth_carpose` wrote."""

    out: Path
    images: int
    cars: int
    points: int
    occluded: int


def camera(rng: np.random.Generator) -> Camera:
    weights = np.array([v[2] for v in _VIEWS])
    centre, spread, _ = _VIEWS[rng.choice(len(_VIEWS), p=weights / weights.sum())]
    az = np.deg2rad(centre + rng.uniform(-spread, spread)) * rng.choice([-1, 1])  # either side of the car
    return Camera(az, np.deg2rad(rng.uniform(4, 30)), rng.uniform(7, 14))


def place_car(rng: np.random.Generator, img: np.ndarray, layer: np.ndarray, width: float, light: np.ndarray,
              lid: int, margin: float = 0.25) -> tuple[Car, Camera, dict]:
    """Draw one random car ``width`` (a share of the image side) wide, centred at least ``margin`` of the side from
    the edges, into ``img`` and its ``layer`` id ``lid``; returns the car, its camera and what was seen of it."""
    size = img.shape[0]
    car, cam = Car.random(rng), camera(rng)
    uv = cam.project(car_outline(car))
    scale = width * size / np.ptp(uv[:, 0])
    centre = rng.uniform(margin, 1 - margin, 2) * size
    cam.affine = (scale, centre - scale * (uv.min(0) + uv.max(0)) / 2)
    return car, cam, draw_car(img, layer, car, cam, light, lid)


def render_image(rng: np.random.Generator, size: int = 256, max_cars: int = 3,
                 occlusion: float = 0.35) -> tuple[np.ndarray, list[dict]]:
    """One image (BGR) and its cars: ``bbox`` (x0, y0, x1, y1), ``keypoints`` (8, 2), ``occluded`` and
    ``inside`` (8,) booleans, in :data:`KEYPOINTS` order. ``occlusion``: chance of an occluder per car."""
    img = background(rng, size)
    layer = np.zeros((size, size), np.uint8)
    n_cars = int(rng.integers(1, max_cars + 1)) if rng.random() < 0.5 else 1
    widths = np.sort(rng.uniform(0.45, 0.9, n_cars) * (1 if n_cars == 1 else 0.7))  # far (small) cars first
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), 1.5])
    light /= np.linalg.norm(light)
    cars = []
    for lid, width in enumerate(widths, start=1):
        car, cam, seen = place_car(rng, img, layer, width, light, lid)
        uv = cam.project(car_outline(car))
        cars.append(dict(lid=lid, kpts=cam.project(car.keypoints()), uv=uv,
                         hidden=np.array([not any(seen[f] for f in faces) for faces in KEYPOINT_FACES])))
    for j, c in enumerate(cars):
        if rng.random() < occlusion:
            occluder(img, layer, rng, (*c["uv"].min(0), *c["uv"].max(0)), 100 + j)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (3, 3), 0)
    out = []
    for c in cars:
        kpts = c["kpts"]
        inside = np.all((kpts >= 0) & (kpts <= size - 1), axis=1)
        covered = np.zeros(len(kpts), bool)
        for k in np.flatnonzero(inside):
            u, v = np.round(kpts[k]).astype(int)
            covered[k] = layer[v, u] > c["lid"]
        x0, y0 = np.clip(c["uv"].min(0), 0, size - 1)
        x1, y1 = np.clip(c["uv"].max(0), 0, size - 1)
        if inside.any() and x1 - x0 > 2 and y1 - y0 > 2:
            out.append(dict(bbox=(float(x0), float(y0), float(x1), float(y1)), keypoints=kpts,
                            occluded=c["hidden"] | covered, inside=inside))
    return img, out


def to_labelme(image_name: str, size: int, cars: list[dict]) -> dict:
    """The labelme document for one image: per car a rectangle and its in-image points, sharing a group_id."""
    shapes = []
    for gid, car in enumerate(cars, start=1):
        x0, y0, x1, y1 = (round(v, 2) for v in car["bbox"])
        shapes.append(dict(label=CAR_LABEL, points=[[x0, y0], [x1, y1]], group_id=gid, description="",
                           shape_type="rectangle", flags={}))
        points = zip(KEYPOINTS, car["keypoints"], car["occluded"], car["inside"], strict=True)
        for name, (x, y), occ, ok in points:
            if ok:
                shapes.append(dict(label=name, points=[[round(float(x), 2), round(float(y), 2)]],
                                   group_id=gid, description="", shape_type="point",
                                   flags={"occluded": bool(occ)}))
    return dict(version=LABELME_VERSION, flags={}, shapes=shapes, imagePath=image_name, imageData=None,
                imageHeight=size, imageWidth=size)




def synth_carpose(out: str | Path, n: int, seed: int = 0, size: int = 256, max_cars: int = 3,
                  image_format: str = "jpg", occlusion: float = 0.35) -> SynthSummary:
    """Write ``n`` images and their labelme JSON files (``000000.jpg`` + ``000000.json``, ...) into ``out``.

    Image ``i`` depends only on ``(seed, i)``, so the same seed gives the same files. The set is written beside
    ``out`` and renamed into place: a folder synth wrote before is replaced as a whole (never a mix of two runs),
    any other non-empty folder is refused.

    Args:
        out: output folder (created).
        n: number of images.
        seed: random seed.
        size: image width and height in pixels.
        max_cars: most cars in one image (half the images have one car).
        image_format: ``jpg`` or ``png``.
        occlusion: chance (0-1) that a car gets an occluder in front of it.

    Raises:
        MmpxError: an argument out of range.
    """
    if n < 1 or size < 64 or max_cars < 1 or image_format not in ("jpg", "png") or not 0 <= occlusion <= 1:
        raise MmpxError(f"bad arguments: n={n}, size={size}, max_cars={max_cars}, format={image_format!r}, "
                        f"occlusion={occlusion}", "n >= 1, size >= 64, max_cars >= 1, format jpg or png, "
                        "occlusion between 0 and 1")
    counts = write_set(out, f"carpose (seed {seed}, n {n})",
                       lambda stage: _render_all(stage, n, seed, size, max_cars, image_format, occlusion))
    return SynthSummary(Path(out), n, *counts)


def _render_all(folder: Path, n: int, seed: int, size: int, max_cars: int, image_format: str,
                occlusion: float) -> tuple[int, int, int]:
    """Write the ``n`` images and labelme files into ``folder``; returns (cars, points, occluded points)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    n_cars = n_points = n_occluded = 0
    for i in range(n):
        img, cars = render_image(np.random.default_rng([seed, i]), size, max_cars, occlusion)
        name = f"{i:06d}.{image_format}"
        if not cv2.imwrite(str(folder / name), img, params):
            raise MmpxError(f"could not write {folder / name}", "check that the folder is writable")
        (folder / f"{i:06d}.json").write_text(json.dumps(to_labelme(name, size, cars), indent=1) + "\n")
        n_cars += len(cars)
        n_points += int(sum(c["inside"].sum() for c in cars))
        n_occluded += int(sum((c["occluded"] & c["inside"]).sum() for c in cars))
    return n_cars, n_points, n_occluded
