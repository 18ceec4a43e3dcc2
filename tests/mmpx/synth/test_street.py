"""``mmpx data synth street``: two classes (cars, bicycles) in labelme format; deterministic, every instance a
class rectangle with its points, bicycles drawn where their keypoints say, the rider's left, occlusion flags."""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mmpx.convert.labelme_read import read_labelme
from mmpx.errors import MmpxError
from mmpx.synth._bicycle import KEYPOINTS as BIKE
from mmpx.synth._bicycle import Bicycle, draw_bicycle
from mmpx.synth._car import Camera
from mmpx.synth._scene import fill
from mmpx.synth.street import CLASSES, render_scene, synth_street, visibility
from tests.helpers import mmpx, run

N = 30


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("street") / "labelme"
    synth_street(out, n=N, seed=5)
    return out


def docs(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def instances(doc: dict) -> list[tuple[str, dict[str, dict]]]:
    """(class, {keypoint name: point shape}) per group, checking each group has exactly one class rectangle."""
    groups: dict[int, list[dict]] = {}
    for shape in doc["shapes"]:
        groups.setdefault(shape["group_id"], []).append(shape)
    out = []
    for shapes in groups.values():
        rects = [s for s in shapes if s["shape_type"] == "rectangle"]
        points = [s for s in shapes if s["shape_type"] == "point"]
        assert len(rects) == 1 and len(rects) + len(points) == len(shapes)
        named = {p["label"]: p for p in points}
        assert len(named) == len(points)
        out.append((rects[0]["label"], named))
    return out


def test_same_seed_same_files_other_seed_other_files(street, tmp_path):
    again = tmp_path / "again"
    synth_street(again, n=N, seed=5)
    assert sorted(p.name for p in street.iterdir()) == sorted(p.name for p in again.iterdir())
    for path in sorted(street.iterdir()):
        assert path.read_bytes() == (again / path.name).read_bytes(), path.name
    other = tmp_path / "other"
    synth_street(other, n=2, seed=6)
    assert (other / "000000.json").read_text() != (street / "000000.json").read_text()
    prefix = tmp_path / "prefix"  # image i depends only on (seed, i)
    synth_street(prefix, n=2, seed=5)
    assert (prefix / "000001.json").read_text() == (street / "000001.json").read_text()


def test_every_instance_is_a_class_rectangle_with_its_points(street):
    classes, both = Counter(), 0
    for doc in docs(street):
        assert doc["imageData"] is None and (street / doc["imagePath"]).is_file()
        found = instances(doc)
        assert found, "every image has at least one object"
        for label, points in found:
            assert label in CLASSES
            assert set(points) <= set(CLASSES[label]), (label, set(points))
            for p in points.values():
                ((x, y),) = p["points"]
                assert 0 <= x <= doc["imageWidth"] - 1 and 0 <= y <= doc["imageHeight"] - 1
                assert isinstance(p["flags"]["occluded"], bool)
            classes[label] += 1
        both += {label for label, _ in found} == {"car", "bicycle"}
    assert classes["car"] > 10 and classes["bicycle"] > 10 and both > 3


def test_max_zero_draws_one_class_only(tmp_path):
    synth_street(tmp_path / "bikes", n=6, seed=1, max_cars=0, max_bicycles=3)
    labels = {label for doc in docs(tmp_path / "bikes") for label, _ in instances(doc)}
    assert labels == {"bicycle"}
    with pytest.raises(MmpxError, match="max_bicycles"):
        synth_street(tmp_path / "none", n=2, max_cars=0, max_bicycles=0)


def test_rider_left_in_files_for_both_facings(street):
    """A bicycle facing right (front hub right of the rear hub) shows its right side to the camera, which looks
    down: the near (right) grip is drawn below the far (left) one; facing left, the other way round."""
    facings = Counter()
    for doc in docs(street):
        for label, p in instances(doc):
            if label != "bicycle" or not {"front_wheel", "rear_wheel", "left_handlebar", "right_handlebar"} <= set(p):
                continue
            x = {k: v["points"][0][0] for k, v in p.items()}
            y = {k: v["points"][0][1] for k, v in p.items()}
            facing_right = x["front_wheel"] > x["rear_wheel"]
            near, far = ("right_handlebar", "left_handlebar") if facing_right else ("left_handlebar", "right_handlebar")
            assert y[near] > y[far], (doc["imagePath"], p)
            facings[facing_right] += 1
    assert facings[True] >= 3 and facings[False] >= 3


def _drawn(bike: Bicycle, az_deg: float, elevation_deg: float = 15, size: int = 400, distance: float = 6):
    cam = Camera(np.deg2rad(az_deg), np.deg2rad(elevation_deg), distance, 0.5)
    uv = cam.project(bike.outline())
    scale = 0.8 * size / np.ptp(uv[:, 0])
    cam.affine = (scale, np.array([size / 2, size / 2]) - scale * (uv.min(0) + uv.max(0)) / 2)
    img = np.full((size, size, 3), 255, np.uint8)
    layer = np.zeros((size, size), np.uint8)
    hidden = draw_bicycle(img, layer, bike, cam, 1)
    return img, layer, dict(zip(BIKE, cam.project(bike.keypoints()), strict=True)), hidden


# cranks upright (pi/2): the pedals stay clear of the wheels, so the only dark pixels in a wheel are its tyre
BIKE_ON_GREEN = Bicycle(0.33, 1.05, 0.95, 1.0, 0.25, np.pi / 2, (0, 200, 0))


@pytest.mark.parametrize("az", [90, 55, 125, -90, -55, -125])
def test_wheel_hubs_at_the_drawn_wheel_centres(az):
    """From each hub keypoint, the first tyre pixel along opposite rays lies at the same distance: the hub is the
    centre of the drawn wheel. (Seen from 60 m, zoomed in: perspective would move a wheel's centre off its hub by
    r sin(tilt) / distance of its radius, 3 px here from the scenes' 4-8 m.)"""
    img, layer, kp, _ = _drawn(BIKE_ON_GREEN, az, distance=60)
    tyre = (img.max(axis=2) < 60) & (layer == 1)
    d = np.arange(2, 120, 0.25)  # the wheels are about 50-80 px in radius
    for name in ("front_wheel", "rear_wheel"):
        hub = kp[name]
        assert layer[int(round(hub[1])), int(round(hub[0]))] == 1  # the hub is drawn there
        reach = []
        for t in np.linspace(0, 2 * np.pi, 48, endpoint=False):
            pts = np.clip(np.round(hub + d[:, None] * [np.cos(t), np.sin(t)]).astype(int), 0, 399)
            hits = np.flatnonzero(tyre[pts[:, 1], pts[:, 0]])
            reach.append(d[hits[0]] if hits.size else np.nan)  # none: a frame tube drawn over the tyre there
        reach = np.array(reach)
        gap = np.abs(reach[:24] - reach[24:])
        gap = gap[~np.isnan(gap)]
        assert gap.size >= 16, (name, reach)
        # a pedal or a tube's edge can end a ray early; nearly every pair is symmetric to the pixel
        assert np.median(gap) <= 0.5 and (gap <= 1.5).mean() >= 0.85, (name, reach)
        assert np.nanmin(reach) > 40  # a wheel, not the hub's own rim
    # front is the handlebar's end, the saddle is above the pedals
    grips = (kp["left_handlebar"] + kp["right_handlebar"]) / 2
    assert abs(grips[0] - kp["front_wheel"][0]) < abs(grips[0] - kp["rear_wheel"][0])
    assert kp["saddle"][1] < kp["pedals"][1]


@pytest.mark.parametrize("az", [90, 60, 120, 140])
def test_left_handlebar_is_the_riders_left_when_mirrored(az):
    """Seen from the rider's left (+az) the front is on the image's left, the left grip the near one (drawn
    lower); from the mirrored side (-az) the image is the mirror image and the names swap with it."""
    bike = Bicycle.random(np.random.default_rng(az))
    kp = {}
    for sign in (1, -1):
        cam = Camera(np.deg2rad(sign * az), np.deg2rad(12), 6, 0.5)
        kp[sign] = dict(zip(BIKE, cam.project(bike.keypoints()), strict=True))
    left, right = kp[1], kp[-1]
    assert left["front_wheel"][0] < left["rear_wheel"][0] and right["front_wheel"][0] > right["rear_wheel"][0]
    assert left["left_handlebar"][1] > left["right_handlebar"][1]
    assert right["right_handlebar"][1] > right["left_handlebar"][1]
    for a, b in (("left_handlebar", "right_handlebar"), ("right_handlebar", "left_handlebar"),
                 ("front_wheel", "front_wheel"), ("saddle", "saddle")):
        assert np.allclose(left[a] * [-1, 1], right[b], atol=1e-9), a


def test_far_grip_hidden_by_the_bicycle_itself():
    """Looking along the handlebar from the rider's left, the right grip is right behind the left one."""
    bike = Bicycle(0.33, 1.05, 0.95, 1.0, 0.25, 0.3, (40, 40, 200))
    grip = bike.keypoints()[BIKE.index("left_handlebar")]
    cam = Camera(np.arccos(grip[0] / 6), 0.0, 6, target_z=grip[2])  # the camera on the handlebar's line
    cam.affine = (300.0, np.array([200.0, 200.0]))
    img, layer = np.zeros((400, 400, 3), np.uint8), np.zeros((400, 400), np.uint8)
    hidden = draw_bicycle(img, layer, bike, cam, 1)
    assert hidden.tolist() == [n == "right_handlebar" for n in BIKE]
    *_, quarter = _drawn(bike, 50, elevation_deg=20)
    assert not quarter.any()


def test_point_covered_by_a_later_object_is_occluded():
    img, layer, kp, _ = _drawn(BIKE_ON_GREEN, -70)
    x, y = kp["saddle"]
    fill(img, layer, [[x - 12, y - 12], [x + 12, y - 12], [x + 12, y + 12], [x - 12, y + 12]], (0, 0, 255), 2)
    covered, inside = visibility(np.array(list(kp.values())), 1, layer)
    assert inside.all()
    assert covered.tolist() == [n == "saddle" for n in BIKE]
    covered, _ = visibility(np.array(list(kp.values())), 2, layer)  # the box is on top of nothing later
    assert not covered.any()


def test_scene_flags_match_the_layer_map():
    """In drawn scenes a point is occluded exactly where a later object's pixel lies on it (or its own bicycle
    hides it); bicycles get covered by cars and cars by bicycles."""
    covered_by = Counter()
    for i in range(40):
        scene = render_scene(np.random.default_rng([11, i]), 192)
        owner = {o["lid"]: o["label"] for o in scene.objects}
        for o in scene.objects:
            covered, inside = visibility(o["keypoints"], o["lid"], scene.layer)
            assert (o["occluded"][inside] >= covered[inside]).all()
            for k in np.flatnonzero(covered):
                u, v = np.round(o["keypoints"][k]).astype(int)
                top = int(scene.layer[v, u])
                covered_by[(o["label"], owner.get(top, "occluder" if top >= 100 else "dropped"))] += 1
            if o["label"] == "car":  # only self-hidden points (the car's far side) are flagged without cover
                continue
            extra = o["occluded"] & ~covered & inside
            assert set(np.flatnonzero(extra)) <= {BIKE.index("left_handlebar"), BIKE.index("right_handlebar")}
    assert covered_by[("bicycle", "car")] > 0 and covered_by[("car", "bicycle")] > 0
    assert covered_by[("bicycle", "occluder")] > 0


def test_files_load_with_the_labelme_reader(street):
    names = frozenset(n for names in CLASSES.values() for n in names)
    for path, doc in zip(sorted(street.glob("*.json")), docs(street), strict=True):
        lf = read_labelme(str(path), known=names)
        assert sorted(r.label for r in lf.rects) == sorted(s["label"] for s in doc["shapes"]
                                                           if s["shape_type"] == "rectangle")
        assert set(lf.groups) == {r.group for r in lf.rects} and not lf.ungrouped and not lf.other_shapes
        flags = [s["flags"]["occluded"] for s in doc["shapes"] if s["shape_type"] == "point"]
        seen = [pt[4] for pts in lf.groups.values() for pt in pts]
        assert Counter(seen) == Counter(1 if f else 2 for f in flags)


def test_convert_labelme_with_classes(street, tmp_path):
    helptext = mmpx("convert", "labelme", "--help").stdout
    if "--classes" not in helptext:
        pytest.skip("mmpx convert labelme has no --classes option yet")
    result = mmpx("convert", "labelme", str(street), str(tmp_path / "data"), "--classes", "car,bicycle",
                  "--val-ratio", "0", "--strict")
    assert result.returncode == 0, result.stdout + result.stderr
    coco = json.loads((tmp_path / "data" / "annotations" / "train.json").read_text())
    categories = {c["name"]: c for c in coco["categories"]}
    assert set(categories) == {"car", "bicycle"}
    rects = Counter(s["label"] for doc in docs(street) for s in doc["shapes"] if s["shape_type"] == "rectangle")
    got = Counter()
    for ann in coco["annotations"]:
        name = next(n for n, c in categories.items() if c["id"] == ann["category_id"])
        assert len(ann["keypoints"]) == 3 * len(categories[name]["keypoints"])
        got[name] += 1
    assert got == rects
    assert set(categories["bicycle"]["keypoints"]) == set(BIKE)


def test_refuses_a_foreign_folder_and_replaces_its_own(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "000000.jpg").write_bytes(b"my own")
    with pytest.raises(MmpxError, match="not empty"):
        synth_street(foreign, n=1)
    assert (foreign / "000000.jpg").read_bytes() == b"my own"
    own = tmp_path / "own"
    synth_street(own, n=3, seed=0)
    synth_street(own, n=1, seed=0)  # a set synth wrote is replaced as a whole
    assert sorted(p.name for p in own.iterdir()) == [".mmpx-synth", "000000.jpg", "000000.json"]


def test_fast_and_torch_free(tmp_path):
    start = time.perf_counter()
    synth_street(tmp_path / "speed", n=50, seed=0)
    assert time.perf_counter() - start < 10  # well under a second here; generous for a busy machine
    heavy = ("torch", "mmpose", "mmpose_ext", "mmengine")
    code = f"import sys, mmpx.synth.street; print([m for m in sys.modules if m.split('.')[0] in {heavy}])"
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_cli(tmp_path):
    out = tmp_path / "cli"
    result = mmpx("data", "synth", "street", str(out), "-n", "3", "--seed", "2", "--max-bicycles", "1",
                  "--format", "png")
    assert result.returncode == 0, result.stderr
    assert "wrote 3 images" in result.stdout and "bicycle keypoints: " + ",".join(BIKE) in result.stdout
    assert sorted(p.name for p in out.iterdir()) == [".mmpx-synth", "000000.json", "000000.png", "000001.json",
                                                     "000001.png", "000002.json", "000002.png"]
    bad = mmpx("data", "synth", "street", str(tmp_path / "bad"), "--max-cars", "0", "--max-bicycles", "0")
    assert bad.returncode != 0 and "max_bicycles" in bad.stdout + bad.stderr
    assert not (tmp_path / "bad").exists()
