"""A synthetic two-class dataset in labelme format: street scenes with cars (8 keypoints) and bicycles (6).

The cars are the carpose cars (:mod:`mmpx.synth.carpose`, drawn by the same renderer); the bicycles are
:mod:`mmpx.synth._bicycle`'s, seen from the side or three-quarter, facing left or right, so which grip is the
rider's left follows from the geometry. Objects are drawn far (small) to near (large) into one layer map, so a
keypoint that a later object (another car or bicycle, an occluder) covers is flagged ``occluded``, as are
points an object hides itself; points outside the image are left out. Each instance is a rectangle labelled
with its class (``car``, ``bicycle``) and its points, sharing a ``group_id``: the labelme convention for several
classes (docs/guides/convert.md).

Examples:
    >>> from mmpx.synth.street import synth_street
    >>> summary = synth_street("data/street", n=200, seed=0)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mmpx.errors import MmpxError
from mmpx.synth import _bicycle as B
from mmpx.synth._car import KEYPOINTS as CAR_KEYPOINTS
from mmpx.synth._car import Camera, Car
from mmpx.synth._output import write_set
from mmpx.synth._scene import KEYPOINT_FACES, background, car_outline, draw_car, occluder
from mmpx.synth.carpose import LABELME_VERSION, camera

__all__ = ["CLASSES", "Scene", "StreetSummary", "render_scene", "synth_street", "to_labelme", "visibility"]

# class name -> its keypoint names, in the order the labelme points and a metainfo list them
CLASSES = {"car": CAR_KEYPOINTS, "bicycle": B.KEYPOINTS}
BICYCLE_SIZE = 0.75  # a bicycle's width in the image, relative to a car's at the same draw (it is shorter)


@dataclass(frozen=True)
class StreetSummary:
    """What :func:`synth_street` wrote."""

    out: Path
    images: int
    cars: int
    bicycles: int
    points: int
    occluded: int


@dataclass
class Scene:
    """One drawn image: the picture (BGR), its layer map (which object's pixel is on top: ids from 1 in draw
    order, occluders from 100) and its instances, each a dict with ``label``, ``lid``, ``bbox`` (x0, y0, x1,
    y1), ``keypoints`` (K, 2), and (K,) booleans ``occluded`` and ``inside``."""

    img: np.ndarray
    layer: np.ndarray
    objects: list[dict]


def _bicycle_camera(rng: np.random.Generator) -> Camera:
    # side view +- 40 deg (front or rear three-quarter), from either side: facing left or right in the image;
    # always above the handlebar (at least 0.6 + 4 sin 10 deg = 1.3 m), so the near grip is drawn below the far one
    az = np.deg2rad(90 + rng.uniform(-40, 40)) * rng.choice([-1, 1])
    return Camera(az, np.deg2rad(rng.uniform(10, 30)), rng.uniform(4, 8), target_z=0.6)


def _place(cam: Camera, outline: np.ndarray, rng: np.random.Generator, width: float, size: int) -> None:
    """Scale and shift the camera's image so the object is ``width`` of the image wide, somewhere central."""
    uv = cam.project(outline)
    scale = width * size / np.ptp(uv[:, 0])
    centre = rng.uniform(0.25, 0.75, 2) * size
    cam.affine = (scale, centre - scale * (uv.min(0) + uv.max(0)) / 2)


def render_scene(rng: np.random.Generator, size: int = 256, max_cars: int = 2, max_bicycles: int = 2,
                 occlusion: float = 0.35) -> Scene:
    """One street image with 0..``max_cars`` cars and 0..``max_bicycles`` bicycles (at least one object).
    ``occlusion``: chance of an occluder in front of each object."""
    img = background(rng, size)
    layer = np.zeros((size, size), np.uint8)
    kinds = ["car"] * int(rng.integers(0, max_cars + 1)) + ["bicycle"] * int(rng.integers(0, max_bicycles + 1))
    if not kinds:
        kinds = [str(rng.choice(["car", "bicycle"]))] if max_cars and max_bicycles else \
            ["car" if max_cars else "bicycle"]
    near = rng.uniform(0.45, 0.9, len(kinds)) * (1 if len(kinds) == 1 else 0.7)  # a car's width at that depth
    widths = near * [BICYCLE_SIZE if k == "bicycle" else 1 for k in kinds]
    light = np.array([rng.uniform(-1, 1), rng.uniform(-1, 1), 1.5])
    light /= np.linalg.norm(light)
    objects = []
    for lid, i in enumerate(np.argsort(near, kind="stable"), start=1):  # far objects first
        if kinds[i] == "car":
            car, cam = Car.random(rng), camera(rng)
            _place(cam, car_outline(car), rng, widths[i], size)
            seen = draw_car(img, layer, car, cam, light, lid)
            hidden = np.array([not any(seen[f] for f in faces) for faces in KEYPOINT_FACES])
            kpts, uv = cam.project(car.keypoints()), cam.project(car_outline(car))
        else:
            bike, cam = B.Bicycle.random(rng), _bicycle_camera(rng)
            _place(cam, bike.outline(), rng, widths[i], size)
            hidden = B.draw_bicycle(img, layer, bike, cam, lid)
            kpts, uv = cam.project(bike.keypoints()), cam.project(bike.outline())
        objects.append(dict(label=kinds[i], lid=lid, keypoints=kpts, uv=uv, hidden=hidden))
    for j, o in enumerate(objects):
        if rng.random() < occlusion:
            occluder(img, layer, rng, (*o["uv"].min(0), *o["uv"].max(0)), 100 + j)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img, (3, 3), 0)
    out = []
    for o in objects:
        occluded, inside = visibility(o["keypoints"], o["lid"], layer)
        x0, y0 = np.clip(o["uv"].min(0), 0, size - 1)
        x1, y1 = np.clip(o["uv"].max(0), 0, size - 1)
        if inside.any() and x1 - x0 > 2 and y1 - y0 > 2:
            out.append(dict(label=o["label"], lid=o["lid"], bbox=(float(x0), float(y0), float(x1), float(y1)),
                            keypoints=o["keypoints"], occluded=o["hidden"] | occluded, inside=inside))
    return Scene(img, layer, out)


def visibility(kpts: np.ndarray, lid: int, layer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(covered, inside): which points lie in the image, and which of those an object drawn after object
    ``lid`` covers (the layer map holds a later id there)."""
    h, w = layer.shape
    inside = np.all((kpts >= 0) & (kpts <= [w - 1, h - 1]), axis=1)
    covered = np.zeros(len(kpts), bool)
    for k in np.flatnonzero(inside):
        u, v = np.round(kpts[k]).astype(int)
        covered[k] = layer[v, u] > lid
    return covered, inside


def to_labelme(image_name: str, size: int, objects: list[dict]) -> dict:
    """The labelme document for one image: per instance a rectangle labelled with its class and its in-image
    points labelled with the class's keypoint names, sharing a group_id."""
    shapes = []
    for gid, obj in enumerate(objects, start=1):
        x0, y0, x1, y1 = (round(v, 2) for v in obj["bbox"])
        shapes.append(dict(label=obj["label"], points=[[x0, y0], [x1, y1]], group_id=gid, description="",
                           shape_type="rectangle", flags={}))
        points = zip(CLASSES[obj["label"]], obj["keypoints"], obj["occluded"], obj["inside"], strict=True)
        for name, (x, y), occ, ok in points:
            if ok:
                shapes.append(dict(label=name, points=[[round(float(x), 2), round(float(y), 2)]],
                                   group_id=gid, description="", shape_type="point",
                                   flags={"occluded": bool(occ)}))
    return dict(version=LABELME_VERSION, flags={}, shapes=shapes, imagePath=image_name, imageData=None,
                imageHeight=size, imageWidth=size)


def synth_street(out: str | Path, n: int, seed: int = 0, size: int = 256, max_cars: int = 2,
                 max_bicycles: int = 2, image_format: str = "jpg", occlusion: float = 0.35) -> StreetSummary:
    """Write ``n`` street images and their labelme JSON files (``000000.jpg`` + ``000000.json``, ...) into
    ``out``, as :func:`~mmpx.synth.carpose.synth_carpose` does (same seed, same files; written beside ``out``
    and renamed into place; a folder synth wrote before is replaced, any other non-empty folder refused).

    Args:
        out: output folder (created).
        n: number of images.
        seed: random seed.
        size: image width and height in pixels.
        max_cars: most cars in one image (0: none).
        max_bicycles: most bicycles in one image (0: none).
        image_format: ``jpg`` or ``png``.
        occlusion: chance (0-1) that an object gets an occluder in front of it.

    Raises:
        MmpxError: an argument out of range, or ``out`` is in the way.
    """
    if n < 1 or size < 64 or max_cars < 0 or max_bicycles < 0 or max_cars + max_bicycles < 1 or \
            image_format not in ("jpg", "png") or not 0 <= occlusion <= 1:
        raise MmpxError(f"bad arguments: n={n}, size={size}, max_cars={max_cars}, max_bicycles={max_bicycles}, "
                        f"format={image_format!r}, occlusion={occlusion}",
                        "n >= 1, size >= 64, max_cars and max_bicycles >= 0 and not both 0, format jpg or png, "
                        "occlusion between 0 and 1")
    counts = write_set(out, f"street (seed {seed}, n {n})", lambda stage: _render_all(
        stage, n, seed, size, max_cars, max_bicycles, image_format, occlusion))
    return StreetSummary(Path(out), n, *counts)


def _render_all(folder: Path, n: int, seed: int, size: int, max_cars: int, max_bicycles: int,
                image_format: str, occlusion: float) -> tuple[int, int, int, int]:
    """Write the images and labelme files; returns (cars, bicycles, points, occluded points)."""
    params = [cv2.IMWRITE_JPEG_QUALITY, 92] if image_format == "jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    cars = bicycles = points = occluded = 0
    for i in range(n):
        scene = render_scene(np.random.default_rng([seed, i]), size, max_cars, max_bicycles, occlusion)
        name = f"{i:06d}.{image_format}"
        if not cv2.imwrite(str(folder / name), scene.img, params):
            raise MmpxError(f"could not write {folder / name}", "check that the folder is writable")
        (folder / f"{i:06d}.json").write_text(json.dumps(to_labelme(name, size, scene.objects), indent=1) + "\n")
        for o in scene.objects:
            cars += o["label"] == "car"
            bicycles += o["label"] == "bicycle"
            points += int(o["inside"].sum())
            occluded += int((o["occluded"] & o["inside"]).sum())
    return cars, bicycles, points, occluded
