"""A dataset of several classes to YOLO pose and back: Ultralytics has one ``kpt_shape`` per model, so the labels
hold the union of the classes' keypoints (``<class>/<keypoint>``, other classes' points ``0 0 0``, ``flip_idx``
within a class); ``mmpx convert yolo`` reads that layout back as the same classes, and refuses a line that labels
another class's keypoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from mmpx.convert.to_yolo import convert_to_yolo
from mmpx.convert.yolo import convert_yolo
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_classes, load_metainfo
from tests.mmpx.configs.multiclass_data import BICYCLE, CAR, make_dataset


@pytest.fixture
def street(tmp_path) -> Path:
    return make_dataset(tmp_path / "data", images=4)


def _yolo(street: Path, out: Path, **kw) -> dict:
    convert_to_yolo(street / "annotations", out, images=street / "images", **kw)
    return yaml.safe_load((out / "data.yaml").read_text())


def test_union_layout(street, tmp_path):
    data = _yolo(street, tmp_path / "yolo")
    names = [f"car/{k}" for k in CAR] + [f"bicycle/{k}" for k in BICYCLE]
    assert data["kpt_shape"] == [8, 3] and data["names"] == {0: "car", 1: "bicycle"}
    assert data["kpt_names"] == {0: names, 1: names}
    assert data["flip_idx"] == [1, 0, 3, 2, 4, 5, 7, 6]  # left/right inferred within each class
    assert "union" in (tmp_path / "yolo" / "data.yaml").read_text().splitlines()[1]
    lines = (tmp_path / "yolo" / "labels" / "train" / "street_0.txt").read_text().splitlines()
    car, bike = (line.split() for line in lines)
    assert car[0] == "0" and len(car) == 5 + 8 * 3 and car[5 + 12:] == ["0.000000", "0.000000", "0"] * 4
    assert bike[0] == "1" and bike[5:5 + 12] == ["0.000000", "0.000000", "0"] * 4 and bike[5 + 14] == "2"
    with_meta = _yolo(street, tmp_path / "yolo2", metainfo=street / "metainfo.py")
    assert with_meta["flip_idx"] == data["flip_idx"]


def test_round_trip(street, tmp_path):
    _yolo(street, tmp_path / "yolo")
    report = convert_yolo(tmp_path / "yolo", tmp_path / "back")
    assert report.instances == 8
    before = json.loads((street / "annotations" / "train.json").read_text())
    after = json.loads((tmp_path / "back" / "annotations" / "train.json").read_text())
    assert [(c["id"], c["name"], c["keypoints"]) for c in after["categories"]] == [
        (1, "car", CAR), (2, "bicycle", BICYCLE)]
    for a, b in zip(before["annotations"], after["annotations"], strict=True):
        assert a["category_id"] == b["category_id"]
        assert b["keypoints"] == pytest.approx(a["keypoints"], abs=1e-3)
    classes = keypoint_classes(load_metainfo(tmp_path / "back" / "metainfo.py"))
    assert [(c.id, c.name, list(c.keypoints)) for c in classes] == [(1, "car", CAR), (2, "bicycle", BICYCLE)]
    info = load_metainfo(tmp_path / "back" / "metainfo.py")
    swaps = {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values() if kp["swap"]}
    assert swaps["bicycle/left_handlebar"] == "bicycle/right_handlebar" and len(swaps) == 6


def test_a_point_of_another_class_is_refused(street, tmp_path):
    _yolo(street, tmp_path / "yolo")
    label = tmp_path / "yolo" / "labels" / "train" / "street_0.txt"
    car, bike = (line.split() for line in label.read_text().splitlines())
    car[5 + 12: 5 + 15] = ["0.5", "0.5", "2"]  # the car line labels bicycle/front_wheel
    label.write_text(" ".join(car) + "\n" + " ".join(bike) + "\n")
    with pytest.raises(MmpxError, match="'bicycle/front_wheel' is labelled on a line of class 'car'"):
        convert_yolo(tmp_path / "yolo", tmp_path / "back")


def test_flip_idx_across_classes_is_refused(street, tmp_path):
    _yolo(street, tmp_path / "yolo")
    path = tmp_path / "yolo" / "data.yaml"
    data = yaml.safe_load(path.read_text())
    data["flip_idx"] = [4, 1, 2, 3, 0, 5, 6, 7]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MmpxError, match="flip_idx pairs 'car/left_front' with 'bicycle/front_wheel'"):
        convert_yolo(tmp_path / "yolo", tmp_path / "back")


def test_same_keypoints_for_every_class_stay_shared(tmp_path):
    """Categories listing the same keypoints keep today's layout: one set, no union names."""
    root = make_dataset(tmp_path / "data", images=2)
    for split in ("train", "val"):
        path = root / "annotations" / f"{split}.json"
        doc = json.loads(path.read_text())
        doc["categories"][1]["keypoints"] = doc["categories"][0]["keypoints"]
        path.write_text(json.dumps(doc))
    data = _yolo(root, tmp_path / "yolo")
    assert data["kpt_names"][0] == CAR and data["kpt_shape"] == [4, 3]
