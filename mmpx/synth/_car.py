"""A box-like 3D car, a look-at camera, and a painter's-algorithm renderer (numpy + cv2 only).

Car coordinates: x forward (front at +x), y to the car's own left, z up, metres, origin under the centre.
Every visual cue that tells the keypoints apart comes from this one model, so geometry is consistent:
headlights (white) and a grille at the front, red tail lights and a white plate at the rear, an amber side
marker near the front and a red one near the rear on each side, a long hood with a slanted windscreen and a
short trunk.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

KEYPOINTS = ("left_front_bumper", "right_front_bumper", "left_rear_bumper", "right_rear_bumper",
             "left_front_tire", "right_front_tire", "left_rear_tire", "right_rear_tire")
# BGR
GLASS, TIRE, RIM, BUMPER = (70, 55, 45), (25, 25, 25), (170, 170, 175), (45, 45, 50)
HEADLIGHT, TAIL, AMBER = (215, 250, 255), (30, 20, 210), (0, 150, 255)
PLATE, GRILLE = (235, 235, 235), (20, 20, 20)
BUMPER_Z = (0.28, 0.5)


@dataclass
class Car:
    length: float
    width: float
    body: tuple[float, float]  # bottom and top of the lower box
    roof: float
    color: tuple[int, int, int]

    @classmethod
    def random(cls, rng: np.random.Generator) -> Car:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(40, 255), rng.integers(60, 240)]]])
        color = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
        return cls(float(rng.uniform(4.0, 4.8)), float(rng.uniform(1.7, 1.9)),
                   (0.25, float(rng.uniform(0.85, 1.0))), float(rng.uniform(1.35, 1.55)), color)

    @property
    def wheel(self) -> tuple[float, float]:
        """(x of the front axle, radius); the rear axle mirrors it."""
        return 0.32 * self.length, 0.34

    def keypoints(self) -> np.ndarray:
        """(8, 3) keypoints in :data:`KEYPOINTS` order: bumper corners at mid-bumper height, tire hubs."""
        hx, hy = self.length / 2, self.width / 2
        ax, r = self.wheel
        zb = sum(BUMPER_Z) / 2
        return np.array([[hx, hy, zb], [hx, -hy, zb], [-hx, hy, zb], [-hx, -hy, zb],
                         [ax, hy, r], [ax, -hy, r], [-ax, hy, r], [-ax, -hy, r]], dtype=float)


def rect(axis: int, value: float, a: tuple[float, float], b: tuple[float, float]) -> np.ndarray:
    """An axis-aligned rectangle in the plane ``coord[axis] == value``, spanning ``a`` and ``b``."""
    others = [i for i in range(3) if i != axis]
    pts = np.zeros((4, 3))
    pts[:, axis] = value
    pts[:, others[0]] = [a[0], a[1], a[1], a[0]]
    pts[:, others[1]] = [b[0], b[0], b[1], b[1]]
    return pts


def bilinear(quad: np.ndarray, s: tuple[float, float], t: tuple[float, float]) -> np.ndarray:
    """The sub-quad ``s x t`` (fractions) of a quad given as p00, p10, p11, p01."""
    def at(u: float, v: float) -> np.ndarray:
        return (1 - u) * (1 - v) * quad[0] + u * (1 - v) * quad[1] + u * v * quad[2] + (1 - u) * v * quad[3]
    return np.array([at(s[0], t[0]), at(s[1], t[0]), at(s[1], t[1]), at(s[0], t[1])])


def solid_faces(car: Car) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The lower box's and the cabin's faces, by name, each a (4, 3) quad."""
    hx, hy = car.length / 2, car.width / 2
    z0, z1 = car.body
    box = {"front": rect(0, hx, (-hy, hy), (z0, z1)), "rear": rect(0, -hx, (-hy, hy), (z0, z1)),
           "left": rect(1, hy, (-hx, hx), (z0, z1)), "right": rect(1, -hy, (-hx, hx), (z0, z1)),
           "top": rect(2, z1, (-hx, hx), (-hy, hy))}
    # cabin: long hood and slanted windscreen at the front, short trunk and steeper rear window at the rear
    b = np.array([[0.17 * car.length, 0.92 * hy], [-0.34 * car.length, 0.92 * hy]])
    t = np.array([[0.01 * car.length, 0.76 * hy], [-0.24 * car.length, 0.76 * hy]])
    zr = car.roof
    def p(xy, side, z):
        return [xy[0], side * xy[1], z]
    cab = {"windscreen": np.array([p(b[0], -1, z1), p(b[0], 1, z1), p(t[0], 1, zr), p(t[0], -1, zr)]),
           "rear_window": np.array([p(b[1], 1, z1), p(b[1], -1, z1), p(t[1], -1, zr), p(t[1], 1, zr)]),
           "left_window": np.array([p(b[1], 1, z1), p(b[0], 1, z1), p(t[0], 1, zr), p(t[1], 1, zr)]),
           "right_window": np.array([p(b[0], -1, z1), p(b[1], -1, z1), p(t[1], -1, zr), p(t[0], -1, zr)]),
           "roof": np.array([p(t[1], -1, zr), p(t[0], -1, zr), p(t[0], 1, zr), p(t[1], 1, zr)])}
    return box, cab


def outward_normal(quad: np.ndarray, centre: np.ndarray) -> np.ndarray:
    n = np.cross(quad[1] - quad[0], quad[3] - quad[0])
    n /= np.linalg.norm(n) + 1e-9
    return n if np.dot(n, quad.mean(0) - centre) >= 0 else -n


class Camera:
    """A pinhole looking at the car from azimuth ``az`` (0: from the front, +90 deg: from the car's left)."""

    def __init__(self, az: float, elevation: float, distance: float, target_z: float = 0.7) -> None:
        self.pos = distance * np.array([np.cos(elevation) * np.cos(az), np.cos(elevation) * np.sin(az),
                                        np.sin(elevation)]) + [0, 0, target_z]
        f = np.array([0, 0, target_z]) - self.pos
        f /= np.linalg.norm(f)
        r = np.cross(f, [0, 0, 1.0])
        r /= np.linalg.norm(r)
        self.axes = np.stack([r, np.cross(r, f), f])  # right, up, forward
        self.affine = (1.0, np.zeros(2))

    def project(self, pts: np.ndarray) -> np.ndarray:
        c = (np.asarray(pts, float).reshape(-1, 3) - self.pos) @ self.axes.T
        uv = np.stack([c[:, 0] / c[:, 2], -c[:, 1] / c[:, 2]], axis=1)
        return uv * self.affine[0] + self.affine[1]

    def sees(self, quad: np.ndarray, normal: np.ndarray) -> bool:
        return float(np.dot(normal, self.pos - quad.mean(0))) > 1e-6


def wheel_polygon(car: Car, x: float, side: int, scale: float = 1.0, n: int = 18) -> np.ndarray:
    _, r = car.wheel
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    y = side * (car.width / 2 + 0.02)
    return np.stack([x + scale * r * np.cos(a), np.full(n, y), r + scale * r * np.sin(a)], axis=1)
