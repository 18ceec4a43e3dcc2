"""A tiny two-class dataset drawn with OpenCV, as ``mmpx convert`` lays one out: cars (4 keypoints, the corners of a
box) and bicycles (4: two wheel hubs, two handlebar ends), with a multi-class metainfo. Torch-free; used by the
configs, dataset and metric tests of several classes."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from mmpx.metainfo import build_classes_metainfo, write_metainfo

CAR = ["left_front", "right_front", "left_rear", "right_rear"]
BICYCLE = ["front_wheel", "rear_wheel", "left_handlebar", "right_handlebar"]
CLASSES = [dict(id=1, name="car", keypoints=CAR, skeleton=[("left_front", "right_front"), ("left_rear", "right_rear")]),
           dict(id=2, name="bicycle", keypoints=BICYCLE, skeleton=[("front_wheel", "rear_wheel")],
                sigmas=[0.05, 0.05, 0.03, 0.03])]


def categories() -> list[dict]:
    return [dict(id=c["id"], name=c["name"], supercategory=c["name"], keypoints=list(c["keypoints"]),
                 skeleton=[[c["keypoints"].index(a) + 1, c["keypoints"].index(b) + 1] for a, b in c["skeleton"]])
            for c in CLASSES]


def _car(img: np.ndarray, x: int, y: int) -> list[float]:
    cv2.rectangle(img, (x, y), (x + 40, y + 24), (40, 40, 200), -1)
    points = [(x, y), (x + 40, y), (x, y + 24), (x + 40, y + 24)]
    for p in points:
        cv2.circle(img, p, 3, (255, 255, 255), -1)
    return [v for p in points for v in (float(p[0]), float(p[1]), 2)]


def _bicycle(img: np.ndarray, x: int, y: int) -> list[float]:
    front, rear = (x + 30, y + 30), (x, y + 30)
    for c in (front, rear):
        cv2.circle(img, c, 9, (20, 160, 20), 2)
    cv2.line(img, rear, front, (20, 160, 20), 2)
    left, right = (x + 24, y + 4), (x + 36, y + 8)
    cv2.line(img, left, right, (200, 200, 0), 2)
    return [v for p in (front, rear, left, right) for v in (float(p[0]), float(p[1]), 2)]


def make_dataset(root: Path, images: int = 4, seed: int = 0) -> Path:
    """``root``/images/*.png, annotations/train.json and val.json (the last image held out), metainfo.py; each
    image has one car and one bicycle. Returns ``root``."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    records, anns = [], []
    for i in range(images):
        img = np.full((96, 128, 3), 90, np.uint8)
        cx, cy = int(rng.integers(4, 40)), int(rng.integers(4, 30))
        bx, by = int(rng.integers(70, 84)), int(rng.integers(40, 50))
        name = f"street_{i}.png"
        cv2.imwrite(str(root / "images" / name), img)
        car, bike = _car(img, cx, cy), _bicycle(img, bx, by)
        cv2.imwrite(str(root / "images" / name), img)
        records.append(dict(id=i + 1, file_name=name, width=128, height=96))
        for cat, kpts, box in ((1, car, [cx - 4, cy - 4, 48, 32]), (2, bike, [bx - 12, by - 2, 54, 44])):
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=cat, bbox=[float(v) for v in box],
                             area=float(box[2] * box[3]), iscrowd=0, keypoints=kpts,
                             num_keypoints=sum(1 for v in kpts[2::3] if v > 0)))
    for split, ids in (("train", range(1, images)), ("val", [images])):
        doc = dict(images=[r for r in records if r["id"] in ids], categories=categories(),
                   annotations=[a for a in anns if a["image_id"] in ids])
        (root / "annotations" / f"{split}.json").write_text(json.dumps(doc), encoding="utf-8")
    write_metainfo(root / "metainfo.py", build_classes_metainfo("street", CLASSES))
    return root
