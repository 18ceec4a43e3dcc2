"""Scene pieces for the synthetic car images: backgrounds, clutter, occluders and the car renderer."""

from __future__ import annotations

import cv2
import numpy as np

from mmpx.synth import _car as C
from mmpx.synth._car import Camera, Car, bilinear, outward_normal, rect, solid_faces, wheel_polygon

# which faces must face the camera for each keypoint to be seen (bumper corners belong to two faces)
KEYPOINT_FACES = (("front", "left"), ("front", "right"), ("rear", "left"), ("rear", "right"),
                  ("left",), ("right",), ("left",), ("right",))


def fill(img: np.ndarray, layer: np.ndarray, pts: np.ndarray, color, lid: int) -> None:
    """Fill a polygon (anti-aliased, sub-pixel) and mark it in the layer map with object id ``lid``."""
    p = [np.round(np.asarray(pts) * 16).astype(np.int32).reshape(-1, 1, 2)]
    cv2.fillPoly(img, p, tuple(int(c) for c in color), cv2.LINE_AA, shift=4)
    cv2.fillPoly(layer, p, int(lid), cv2.LINE_8, shift=4)


def background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A gradient (vertical, horizontal or sky over ground) with noise and random clutter shapes."""
    c0, c1, c2 = (rng.uniform(0, 255, 3) for _ in range(3))
    t = np.linspace(0, 1, size)[:, None, None]
    kind = rng.integers(3)
    if kind == 0:
        img = np.broadcast_to(c0 * (1 - t) + c1 * t, (size, size, 3))
    elif kind == 1:
        img = np.broadcast_to((c0 * (1 - t) + c1 * t).transpose(1, 0, 2), (size, size, 3))
    else:  # sky gradient above a horizon, ground below
        h = int(size * rng.uniform(0.3, 0.7))
        img = np.empty((size, size, 3))
        img[:h] = (c0 * (1 - t[:h] / t[h]) + c1 * t[:h] / t[h])
        img[h:] = c2 * (0.8 + 0.2 * t[h:])
    img = img + rng.normal(0, rng.uniform(2, 14), (size, size, 1))
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(rng.integers(3, 12)):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, size, 2))
        s = int(rng.integers(size // 20, size // 3))
        shape = rng.integers(4)
        if shape == 0:  # building-like block
            cv2.rectangle(img, (x, y), (x + s // 2, size), color, -1)
        elif shape == 1:
            cv2.circle(img, (x, y), s // 2, color, -1, cv2.LINE_AA)
        elif shape == 2:
            end = tuple(int(v) for v in rng.integers(0, size, 2))
            cv2.line(img, (x, y), end, color, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:
            pts = rng.integers(-s, s, (int(rng.integers(3, 6)), 2)) + [x, y]
            cv2.fillPoly(img, [pts.astype(np.int32)], color, cv2.LINE_AA)
    return img


def occluder(img: np.ndarray, layer: np.ndarray, rng: np.random.Generator, bbox, lid: int) -> None:
    """A pole, box, bush or sign in front of part of the car with box ``bbox`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = bbox
    w, h = x1 - x0, y1 - y0
    cx = rng.uniform(x0 + 0.1 * w, x1 - 0.1 * w)
    kind = rng.integers(4)
    if kind in (0, 3):  # pole, or sign on a pole
        half = w * rng.uniform(0.025, 0.05)
        grey = int(rng.integers(60, 200))
        fill(img, layer, [[cx - half, y0 - h * rng.uniform(0.2, 1)], [cx + half, y0 - h],
                          [cx + half, y1 + h * 0.3], [cx - half, y1 + h * 0.3]], (grey, grey, grey), lid)
        if kind == 3:
            r = w * rng.uniform(0.08, 0.14)
            centre = np.array([cx, y0 + h * rng.uniform(0, 0.4)])
            a = np.linspace(0, 2 * np.pi, 20, endpoint=False)
            fill(img, layer, centre + r * np.stack([np.cos(a), np.sin(a)], 1), (40, 40, 220), lid)
    elif kind == 1:  # crate or bin standing on the ground
        bw, bh = w * rng.uniform(0.15, 0.4), h * rng.uniform(0.3, 0.8)
        color = tuple(int(c) for c in rng.integers(30, 230, 3))
        left, right = cx - bw / 2, cx + bw / 2
        fill(img, layer, [[left, y1 - bh], [right, y1 - bh], [right, y1 + 2], [left, y1 + 2]], color, lid)
    else:  # bush: a clump of green ellipses at ground level
        for _ in range(rng.integers(3, 7)):
            c = (cx + rng.uniform(-0.18, 0.18) * w, y1 - rng.uniform(0, 0.35) * h)
            axes = (w * rng.uniform(0.06, 0.14), h * rng.uniform(0.12, 0.3))
            axes = (int(axes[0]) + 1, int(axes[1]) + 1)
            poly = cv2.ellipse2Poly((int(c[0]), int(c[1])), axes, 0, 0, 360, 20)
            green = (int(rng.integers(20, 80)), int(rng.integers(90, 190)), int(rng.integers(20, 80)))
            fill(img, layer, poly, green, lid)


def _shade(color, normal: np.ndarray, light: np.ndarray) -> tuple[int, ...]:
    k = 0.5 + 0.5 * max(0.0, float(np.dot(normal, light)))
    return tuple(int(min(255, c * k + 12)) for c in color)


def draw_car(img: np.ndarray, layer: np.ndarray, car: Car, cam: Camera, light: np.ndarray, lid: int) -> dict:
    """Draw ``car`` back to front; return which of its faces the camera sees."""
    box, cab = solid_faces(car)
    centre = np.array([0, 0, sum(car.body) / 2])
    cab_centre = np.mean([q.mean(0) for q in cab.values()], axis=0)
    normals = {k: outward_normal(q, centre) for k, q in box.items()}
    normals.update({k: outward_normal(q, cab_centre) for k, q in cab.items()})
    seen = {k: cam.sees(q, normals[k]) for k, q in {**box, **cab}.items()}
    hx, hy = car.length / 2, car.width / 2
    ax, _ = car.wheel

    def wheels(side: int) -> None:
        for x in (ax, -ax):
            fill(img, layer, cam.project(wheel_polygon(car, x, side)), C.TIRE, lid)
            fill(img, layer, cam.project(wheel_polygon(car, x, side, 0.6)), C.RIM, lid)
            fill(img, layer, cam.project(wheel_polygon(car, x, side, 0.18)), (90, 90, 95), lid)

    for side, name in ((1, "left"), (-1, "right")):  # far wheels peek out under the body
        if not seen[name]:
            wheels(side)
    for name, quad in box.items():
        if seen[name]:
            fill(img, layer, cam.project(quad), _shade(car.color, normals[name], light), lid)
    if seen["front"]:
        fill(img, layer, cam.project(rect(0, hx, (-hy, hy), C.BUMPER_Z)), C.BUMPER, lid)
        fill(img, layer, cam.project(rect(0, hx, (-0.4 * hy, 0.4 * hy), (0.55, 0.75))), C.GRILLE, lid)
        for s in (1, -1):
            fill(img, layer, cam.project(rect(0, hx, sorted((s * 0.55 * hy, s * 0.92 * hy)), (0.6, 0.78))),
                 C.HEADLIGHT, lid)
    if seen["rear"]:
        fill(img, layer, cam.project(rect(0, -hx, (-hy, hy), C.BUMPER_Z)), C.BUMPER, lid)
        fill(img, layer, cam.project(rect(0, -hx, (-0.28 * hy, 0.28 * hy), (0.52, 0.66))), C.PLATE, lid)
        for s in (1, -1):
            fill(img, layer, cam.project(rect(0, -hx, sorted((s * 0.45 * hy, s * 0.95 * hy)), (0.66, 0.84))),
                 C.TAIL, lid)
    for side, name in ((1, "left"), (-1, "right")):
        if not seen[name]:
            continue
        y = side * hy
        for xs in ((hx - 0.3, hx), (-hx, -hx + 0.3)):
            fill(img, layer, cam.project(rect(1, y, xs, C.BUMPER_Z)), C.BUMPER, lid)
        fill(img, layer, cam.project(rect(1, y, (hx - 0.55, hx - 0.35), (0.62, 0.74))), C.AMBER, lid)
        fill(img, layer, cam.project(rect(1, y, (-hx + 0.3, -hx + 0.55), (0.62, 0.76))), C.TAIL, lid)
        for x in (ax, -ax):  # wheel arch, then the wheel on it
            fill(img, layer, cam.project(wheel_polygon(car, x, side, 1.18)), (30, 30, 30), lid)
        wheels(side)
    for name, quad in cab.items():
        if not seen[name]:
            continue
        color = car.color if name == "roof" else C.GLASS
        fill(img, layer, cam.project(quad), _shade(color, normals[name], light), lid)
        if name.endswith("_window"):  # B-pillar between the doors
            fill(img, layer, cam.project(bilinear(quad, (0.5, 0.56), (0, 1))),
                 _shade(car.color, normals[name], light), lid)
    return seen


def car_outline(car: Car) -> np.ndarray:
    """3D points whose projection bounds the drawn car."""
    box, cab = solid_faces(car)
    ax, _ = car.wheel
    wheels = [wheel_polygon(car, x, s) for x in (ax, -ax) for s in (1, -1)]
    return np.concatenate([*box.values(), *cab.values(), *wheels])
