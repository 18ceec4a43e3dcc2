"""A stick-and-disc 3D bicycle and its renderer (numpy + cv2 only), for the synthetic street scenes.

Bicycle coordinates follow the car's (:mod:`mmpx.synth._car`): x forward (front wheel at +x), y to the rider's
left, z up, metres, origin on the ground under the frame. The bicycle is projected by the car's look-at
:class:`~mmpx.synth._car.Camera`, so which way it faces and which grip is the rider's left follow from the
geometry: seen from its right side (the camera at -y) the front is on the image's right and the right grip is
the near one. Wheels are see-through (tyre, rim, spokes, hub); tubes, cranks and grips are thick lines; the
saddle is a small solid. Every stroke also marks the scene's layer map, as the car's faces do.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mmpx.synth._car import Camera

KEYPOINTS = ("front_wheel", "rear_wheel", "saddle", "pedals", "left_handlebar", "right_handlebar")
# BGR
TYRE, RIM, SPOKE, HUB = (30, 30, 32), (175, 175, 180), (150, 150, 155), (95, 95, 100)
GRIP, SADDLE, CRANK = (20, 20, 20), (35, 30, 30), (160, 160, 165)
_SPOKES = 12


@dataclass
class Bicycle:
    """The few numbers that place every part; the rest is fixed proportion."""

    wheel_radius: float
    wheelbase: float
    saddle_height: float  # of the saddle top above the ground
    bar_height: float
    bar_half_width: float  # from the stem to each grip end
    crank_angle: float  # radians; the two cranks are opposite
    color: tuple[int, int, int]

    @classmethod
    def random(cls, rng: np.random.Generator) -> Bicycle:
        hsv = np.uint8([[[rng.integers(0, 180), rng.integers(60, 255), rng.integers(60, 230)]]])
        color = tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])
        return cls(float(rng.uniform(0.3, 0.36)), float(rng.uniform(0.98, 1.1)), float(rng.uniform(0.9, 1.05)),
                   float(rng.uniform(0.95, 1.1)), float(rng.uniform(0.2, 0.3)), float(rng.uniform(0, 2 * np.pi)),
                   color)

    def joints(self) -> dict[str, np.ndarray]:
        """The frame's named 3D points."""
        r, half = self.wheel_radius, self.wheelbase / 2
        bb = np.array([-0.05, 0, r - 0.06])  # bottom bracket: the crank centre, a little below the hubs
        seat = np.array([-0.05 - 0.3 * (self.saddle_height - bb[2]), 0, self.saddle_height])
        head_top = np.array([half - 0.14, 0, self.bar_height - 0.12])
        return dict(front=np.array([half, 0, r]), rear=np.array([-half, 0, r]), bb=bb, seat=seat,
                    seat_top=bb + 0.8 * (seat - bb), head_top=head_top,
                    head_bottom=head_top + [0.06, 0, -0.2], stem=np.array([half - 0.17, 0, self.bar_height]))

    def keypoints(self) -> np.ndarray:
        """(6, 3) keypoints in :data:`KEYPOINTS` order: hubs, saddle top, crank centre, grip ends."""
        j = self.joints()
        grip = j["stem"] + [-0.06, 0, 0]  # the bar sweeps back to the grips
        return np.array([j["front"], j["rear"], j["seat"], j["bb"],
                         grip + [0, self.bar_half_width, 0], grip - [0, self.bar_half_width, 0]])

    def outline(self) -> np.ndarray:
        """3D points whose projection bounds the drawn bicycle."""
        j = self.joints()
        wheels = [_circle(j[k], self.wheel_radius) for k in ("front", "rear")]
        return np.concatenate([*wheels, self.keypoints(), _saddle(j["seat"])[0]])


def _circle(centre: np.ndarray, radius: float, n: int = 36, axes=(0, 2)) -> np.ndarray:
    """A circle in the plane of two axes (the wheel plane x-z by default)."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    pts = np.repeat(centre[None], n, 0).astype(float)
    pts[:, axes[0]] += radius * np.cos(a)
    pts[:, axes[1]] += radius * np.sin(a)
    return pts


def _saddle(top: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The saddle's top face (narrow nose forward, wide back) and its side profile, in 3D."""
    x, z = top[0], top[2]
    face = np.array([[x + 0.14, 0.015, z], [x - 0.05, 0.08, z], [x - 0.11, 0.06, z], [x - 0.11, -0.06, z],
                     [x - 0.05, -0.08, z], [x + 0.14, -0.015, z]])
    side = np.array([[x + 0.14, 0, z], [x - 0.11, 0, z], [x - 0.1, 0, z - 0.05], [x + 0.12, 0, z - 0.03]])
    return face, side


class Pen:
    """Draws projected strokes and fills into the image and the layer map (object id ``lid``); ``mask``, when
    set, records what is drawn from then on (for the bicycle's own parts covering its far grip)."""

    def __init__(self, img: np.ndarray, layer: np.ndarray, cam: Camera, lid: int, ppm: float) -> None:
        self.img, self.layer, self.cam, self.lid, self.ppm = img, layer, cam, lid, ppm
        self.mask: np.ndarray | None = None

    def _targets(self):
        yield self.img, None
        yield self.layer, self.lid
        if self.mask is not None:
            yield self.mask, 1

    def line(self, pts, color, width_m: float, closed: bool = False) -> None:
        p = [np.round(self.cam.project(pts) * 16).astype(np.int32).reshape(-1, 1, 2)]
        thickness = max(1, int(round(width_m * self.ppm)))
        for target, lid in self._targets():
            if lid is None:
                cv2.polylines(target, p, closed, tuple(int(c) for c in color), thickness, cv2.LINE_AA, shift=4)
            else:
                cv2.polylines(target, p, closed, lid, thickness, cv2.LINE_8, shift=4)

    def fill(self, pts, color) -> None:
        p = [np.round(self.cam.project(pts) * 16).astype(np.int32).reshape(-1, 1, 2)]
        for target, lid in self._targets():
            if lid is None:
                cv2.fillPoly(target, p, tuple(int(c) for c in color), cv2.LINE_AA, shift=4)
            else:
                cv2.fillPoly(target, p, lid, cv2.LINE_8, shift=4)


def pixels_per_metre(cam: Camera, bike: Bicycle) -> float:
    """The drawn length of one metre at the bicycle (vertically, at its centre)."""
    a, b = cam.project(np.array([[0, 0, bike.wheel_radius], [0, 0, bike.wheel_radius + 1]]))
    return float(np.linalg.norm(b - a))


def draw_bicycle(img: np.ndarray, layer: np.ndarray, bike: Bicycle, cam: Camera, lid: int) -> np.ndarray:
    """Draw ``bike`` far side first; return (6,) booleans: which keypoints its own parts hide (the far grip
    behind the stem or the near grip when seen from the side)."""
    pen = Pen(img, layer, cam, lid, pixels_per_metre(cam, bike))
    j, kpts = bike.joints(), bike.keypoints()
    near = 1.0 if cam.pos[1] > 0 else -1.0  # the side facing the camera: +1 the rider's left
    _crank(pen, j["bb"], bike.crank_angle + np.pi, -near)  # far crank and pedal
    for hub in (j["rear"], j["front"]):
        _wheel(pen, hub, bike.wheel_radius)
    far_grip, near_grip = (4, 5) if near < 0 else (5, 4)
    pen.line([j["stem"], kpts[far_grip]], CRANK, 0.025)
    pen.line([kpts[far_grip] + 0.1 * (j["stem"] - kpts[far_grip]), kpts[far_grip]], GRIP, 0.04)
    pen.mask = np.zeros(layer.shape, np.uint8)  # from here on, what is drawn may hide the far grip
    tube = 0.035
    for a, b in (("rear", "bb"), ("rear", "seat_top"), ("bb", "seat_top"), ("bb", "head_bottom"),
                 ("seat_top", "head_top"), ("head_bottom", "head_top")):
        pen.line([j[a], j[b]], bike.color, tube)
    pen.line([j["head_bottom"], j["front"]], bike.color, 0.03)  # fork
    pen.line([j["seat_top"], j["seat"]], CRANK, 0.025)  # seat post
    face, side = _saddle(j["seat"])
    pen.fill(face, SADDLE)
    pen.fill(side, SADDLE)
    pen.line([j["head_top"], j["stem"]], CRANK, 0.03)
    pen.line([j["stem"], kpts[near_grip]], CRANK, 0.025)
    pen.line([kpts[near_grip] + 0.1 * (j["stem"] - kpts[near_grip]), kpts[near_grip]], GRIP, 0.04)
    _crank(pen, j["bb"], bike.crank_angle, near)  # chainring and near crank
    u, v = np.round(cam.project(kpts[far_grip])[0]).astype(int)
    hidden = np.zeros(len(KEYPOINTS), bool)
    if 0 <= v < layer.shape[0] and 0 <= u < layer.shape[1]:
        hidden[far_grip] = pen.mask[v, u] > 0
    return hidden


def _wheel(pen: Pen, hub: np.ndarray, r: float) -> None:
    a = np.linspace(0, 2 * np.pi, _SPOKES, endpoint=False)
    for t in a:
        pen.line([hub, hub + 0.93 * r * np.array([np.cos(t), 0, np.sin(t)])], SPOKE, 0.004)
    pen.line(_circle(hub, 0.93 * r), RIM, 0.02, closed=True)
    pen.line(_circle(hub, 0.985 * r), TYRE, 0.035, closed=True)
    pen.fill(_circle(hub, 0.035, 12), HUB)


def _crank(pen: Pen, bb: np.ndarray, angle: float, side: float) -> None:
    """One crank arm and its pedal on ``side`` (+1 the rider's left); the chainring with the right crank."""
    y = np.array([0, side * 0.06, 0])
    if side < 0:
        pen.line(_circle(bb + y, 0.1), CRANK, 0.015, closed=True)
    end = bb + y + 0.17 * np.array([np.cos(angle), 0, np.sin(angle)])
    pen.line([bb + y, end], CRANK, 0.025)
    pen.line([end, end + [0, side * 0.1, 0]], GRIP, 0.03)
    pen.fill(_circle(bb + y, 0.025, 10), HUB)
