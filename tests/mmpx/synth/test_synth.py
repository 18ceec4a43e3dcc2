"""``mmpx data synth carpose``: deterministic, well-formed labelme output with consistent car geometry."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.synth._car import Camera, Car
from mmpx.synth._scene import KEYPOINT_FACES
from mmpx.synth.carpose import KEYPOINTS, synth_carpose
from tests.helpers import mmpx, run


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "labelme"
    synth_carpose(out, n=40, seed=7)
    return out


def docs(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def test_same_seed_same_files_other_seed_other_files(synth, tmp_path):
    again = tmp_path / "again"
    synth_carpose(again, n=40, seed=7)
    for path in sorted(synth.iterdir()):
        assert path.read_bytes() == (again / path.name).read_bytes(), path.name
    other = tmp_path / "other"
    synth_carpose(other, n=3, seed=8)
    assert (other / "000000.json").read_text() != (synth / "000000.json").read_text()
    # image i depends only on (seed, i): a shorter run is a prefix of a longer one
    prefix = tmp_path / "prefix"
    synth_carpose(prefix, n=3, seed=7)
    assert (prefix / "000002.json").read_text() == (synth / "000002.json").read_text()


def test_file_structure(synth):
    assert sorted(p.name for p in synth.glob("*.jpg")) == [f"{i:06d}.jpg" for i in range(40)]
    assert sorted(p.name for p in synth.glob("*.json")) == [f"{i:06d}.json" for i in range(40)]
    for doc in docs(synth):
        assert set(doc) >= {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight",
                            "imageWidth"}
        assert doc["imageData"] is None
        img = cv2.imread(str(synth / doc["imagePath"]))
        assert img.shape == (doc["imageHeight"], doc["imageWidth"], 3) == (256, 256, 3)


def test_cars_are_rectangles_with_named_points(synth):
    n_cars, occluded, flagged_points = 0, Counter(), 0
    for doc in docs(synth):
        groups: dict[int, list[dict]] = {}
        for shape in doc["shapes"]:
            groups.setdefault(shape["group_id"], []).append(shape)
        assert groups, "every image has at least one car"
        for shapes in groups.values():
            rects = [s for s in shapes if s["shape_type"] == "rectangle"]
            points = [s for s in shapes if s["shape_type"] == "point"]
            assert len(rects) == 1 and rects[0]["label"] == "car"
            assert len(rects) + len(points) == len(shapes)
            labels = [p["label"] for p in points]
            assert set(labels) <= set(KEYPOINTS) and len(labels) == len(set(labels))
            (x0, y0), (x1, y1) = rects[0]["points"]
            assert 0 <= x0 < x1 <= 255 and 0 <= y0 < y1 <= 255
            for p in points:
                ((x, y),) = p["points"]
                assert 0 <= x <= doc["imageWidth"] - 1 and 0 <= y <= doc["imageHeight"] - 1
                occluded[p["flags"]["occluded"]] += 1
                flagged_points += isinstance(p["flags"]["occluded"], bool)
            n_cars += 1
    assert n_cars > 40  # some images hold several cars
    assert occluded[True] > 0 and occluded[False] > 0
    assert flagged_points == sum(occluded.values())


def test_labelme_files_convert_cleanly(synth, tmp_path):
    """The project's labelme converter takes every file, car and point (occluded ones: COCO visibility 1)"""
    labelme = pytest.importorskip("mmpx.convert.labelme")
    labelme.convert_labelme(synth, tmp_path / "coco", keypoints=",".join(KEYPOINTS), category="car",
                            val_ratio=0.0, strict=True)
    coco = json.loads((tmp_path / "coco" / "annotations" / "train.json").read_text())
    shapes = [s for doc in docs(synth) for s in doc["shapes"]]
    assert len(coco["images"]) == 40
    assert len(coco["annotations"]) == sum(s["shape_type"] == "rectangle" for s in shapes)
    visibility = Counter(v for ann in coco["annotations"] for v in ann["keypoints"][2::3])
    points = [s for s in shapes if s["shape_type"] == "point"]
    assert visibility[1] == sum(p["flags"]["occluded"] for p in points)
    assert visibility[2] == sum(not p["flags"]["occluded"] for p in points)


def test_geometry_left_right_front_rear():
    """Seen from the car's left (+90 deg) the front is on the image's left and the right side is hidden."""
    car = Car(4.4, 1.8, (0.25, 0.95), 1.45, (0, 0, 255))
    cam = Camera(np.deg2rad(90), np.deg2rad(10), 10)
    uv = dict(zip(KEYPOINTS, cam.project(car.keypoints()), strict=True))
    assert uv["left_front_bumper"][0] < uv["left_rear_bumper"][0]
    assert uv["left_front_tire"][0] < uv["left_rear_tire"][0]
    from mmpx.synth._car import outward_normal, solid_faces

    box, _ = solid_faces(car)
    centre = np.array([0, 0, 0.6])
    seen = {k: cam.sees(q, outward_normal(q, centre)) for k, q in box.items()}
    hidden = [name for name, faces in zip(KEYPOINTS, KEYPOINT_FACES, strict=True)
              if not any(seen[f] for f in faces)]
    assert sorted(hidden) == sorted(n for n in KEYPOINTS if n.startswith("right"))
    # seen from the front (0 deg) the car's left is on the image's right
    front = dict(zip(KEYPOINTS, Camera(0.0, np.deg2rad(10), 10).project(car.keypoints()), strict=True))
    assert front["left_front_bumper"][0] > front["right_front_bumper"][0]


def test_fast_and_light(tmp_path):
    start = time.perf_counter()
    synth_carpose(tmp_path / "speed", n=50, seed=0)
    assert time.perf_counter() - start < 10  # about 0.4 s here; generous for a busy machine
    heavy = ("torch", "mmpose", "mmpose_ext", "mmengine")
    code = f"import sys, mmpx.synth.carpose; print([m for m in sys.modules if m.split('.')[0] in {heavy}])"
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_cli(tmp_path):
    out = str(tmp_path / "cli")
    result = mmpx("data", "synth", "carpose", out, "--n", "3", "--seed", "1", "--format", "png")
    assert result.returncode == 0, result.stderr
    assert "wrote 3 images" in result.stdout
    assert sorted(p.name for p in (tmp_path / "cli").iterdir()) == [".mmpx-synth",  # marks a folder synth may extend
        "000000.json", "000000.png", "000001.json", "000001.png", "000002.json", "000002.png"]
    bad = mmpx("data", "synth", "carpose", str(tmp_path / "bad"), "--n", "0")
    assert bad.returncode != 0
