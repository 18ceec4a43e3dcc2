"""``mmpx convert labelme --classes``: several object classes, each with its own keypoints, in one dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmpx.convert.labelme import convert_labelme
from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, load_metainfo, write_metainfo
from mmpx.metainfo.classes import build_classes_metainfo, keypoint_classes
from tests.mmpx.convert.test_convert_labelme import coco, rect, shape, write_lm

CAR = ["front_left", "front_right", "rear_left"]
BIKE = ["front_wheel", "rear_wheel", "saddle"]


def car(group, x=10, missing=()):
    pts = [shape(k, points=[(x + i, 20 + i)], group=group) for i, k in enumerate(CAR) if k not in missing]
    return [rect(x - 5, 10, x + 30, 40, group, label="car"), *pts]


def bike(group, x=60):
    pts = [shape(k, points=[(x + i, 50 + i)], group=group) for i, k in enumerate(BIKE)]
    return [rect(x - 5, 45, x + 30, 75, group, label="bicycle"), *pts]


def street(src: Path) -> Path:
    """Two good files (cars, a bicycle, a car missing a keypoint), one of an unknown class, one points-only."""
    write_lm(src, "a.json", car(1) + bike(2))
    write_lm(src, "b.json", car(1, missing=("rear_left",)) + car(2, x=50))
    write_lm(src, "c.json", car(1) + [rect(60, 45, 90, 75, 2, label="truck"), shape("cab", points=[(70, 50)],
                                                                                   group=2)])
    write_lm(src, "d.json", [shape("front_left", points=[(5, 5)]), shape("front_right", points=[(8, 6)])])
    return src


def convert(src, out, **kw):
    kw.setdefault("images", "none")
    kw.setdefault("val_ratio", 0)
    return convert_labelme(src, out, **kw)


def test_classes_give_one_category_per_class_with_its_own_keypoints(tmp_path):
    report = convert(street(tmp_path / "src"), tmp_path / "out", classes="car,bicycle")
    data = coco(tmp_path / "out")
    assert [(c["id"], c["name"], c["keypoints"]) for c in data["categories"]] == [
        (1, "car", sorted(CAR)), (2, "bicycle", sorted(BIKE))]
    anns = sorted(data["annotations"], key=lambda a: a["id"])
    assert [(a["image_id"], a["category_id"], a["num_keypoints"]) for a in anns] == [
        (1, 1, 3), (1, 2, 3), (2, 1, 2), (2, 1, 3)]
    # a.json's car: front_left (10, 20), front_right (11, 21), rear_left (12, 22) in sorted order
    assert anns[0]["keypoints"] == [10, 20, 2, 11, 21, 2, 12, 22, 2]
    assert anns[1]["keypoints"] == [60, 50, 2, 61, 51, 2, 62, 52, 2]  # front_wheel, rear_wheel, saddle
    assert anns[2]["keypoints"] == [10, 20, 2, 11, 21, 2, 0, 0, 0]  # rear_left missing in this instance
    skipped = {Path(s["file"]).name: s["reason"] for s in report.skipped}
    assert "'truck' (shape 5) names no class" in skipped["c.json"]
    assert "car, bicycle" in report.skipped[0]["hint"]
    assert "belongs to no rectangle, so to no class" in skipped["d.json"]
    assert [(c["name"], c["instances"], c["keypoints_labelled"]) for c in report.classes] == [
        ("car", 3, {"front_left": 3, "front_right": 3, "rear_left": 2}),
        ("bicycle", 1, {"front_wheel": 1, "rear_wheel": 1, "saddle": 1})]
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["classes"] == report.classes
    info = load_metainfo(tmp_path / "out" / "metainfo.py")
    classes = keypoint_classes(info)
    assert [(c.id, c.name, c.keypoints, c.start) for c in classes] == [
        (1, "car", tuple(sorted(CAR)), 0), (2, "bicycle", tuple(sorted(BIKE)), 3)]
    assert info["keypoint_info"][0]["swap"] == "car/front_right"  # swaps inferred within the class


def test_a_point_of_another_class_is_a_problem_of_its_file(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    write_lm(src, "b.json", [rect(5, 5, 40, 40, 1, label="bicycle"), shape("front_left", points=[(9, 9)], group=1)])
    cars, bikes = tmp_path / "car.py", tmp_path / "bicycle.py"
    write_metainfo(cars, build_metainfo("car", CAR))
    write_metainfo(bikes, build_metainfo("bicycle", BIKE))
    report = convert(src, tmp_path / "out", classes="car,bicycle", metainfo=[cars, bikes])
    assert "point 'front_left' (shape 2) is no keypoint of the class 'bicycle'" in report.skipped[0]["reason"]
    assert [c["keypoints"] for c in coco(tmp_path / "out")["categories"]] == [CAR, BIKE]  # the files' order
    assert report.keypoints_source == f"--metainfo {bikes}; --metainfo {cars}"


def test_one_multiclass_metainfo_gives_ids_names_and_order(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    meta = tmp_path / "street.py"
    write_metainfo(meta, build_classes_metainfo("street", [dict(id=3, name="bicycle", keypoints=BIKE),
                                                           dict(id=5, name="car", keypoints=CAR)]))
    convert(src, tmp_path / "out", classes="car,bicycle", metainfo=[meta])
    data = coco(tmp_path / "out")
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(3, "bicycle"), (5, "car")]
    assert sorted(a["category_id"] for a in data["annotations"]) == [3, 5]


@pytest.mark.parametrize(("kw", "message"), [
    (dict(classes="car"), "two or more"),
    (dict(classes="car,car"), "twice"),
    (dict(classes="car/x,bike"), "holds '/'"),
    (dict(classes="car,bicycle", keypoints="a,b"), "--keypoints with --classes"),
    (dict(classes="car,bicycle,truck"), "no keypoints of the class 'truck'"),
])
def test_bad_class_options_are_refused(tmp_path, kw, message):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    with pytest.raises(MmpxError, match=message.replace("(", r"\(")):
        convert(src, tmp_path / "out", **kw)
    assert not (tmp_path / "out").exists()


def test_metainfo_naming_another_class_is_refused(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    other = tmp_path / "dog.py"
    write_metainfo(other, build_metainfo("dog", ["nose"]))
    with pytest.raises(MmpxError, match="dataset_name 'dog' is none of the classes"):
        convert(src, tmp_path / "out", classes="car,bicycle", metainfo=[other])
    with pytest.raises(MmpxError, match="without --classes"):
        convert(src, tmp_path / "out", metainfo=[other, other])


def test_workers_give_the_same_multiclass_output(tmp_path, monkeypatch):
    from mmpx.convert import labelme as labelme_mod

    monkeypatch.setattr(labelme_mod, "CHUNK_FILES", 2)  # several chunks over a few files
    src = tmp_path / "src"
    for i in range(7):
        write_lm(src, f"f{i}.json", car(1, missing=("rear_left",) if i % 2 else ()) + bike(2))
    for w in (0, 2):
        convert(src, tmp_path / f"w{w}" / "out", classes="car,bicycle", workers=w, val_ratio=0.3)
    for rel in ("annotations/train.json", "annotations/val.json", "metainfo.py"):
        assert (tmp_path / "w0/out" / rel).read_bytes() == (tmp_path / "w2/out" / rel).read_bytes()


def test_without_classes_one_warning_names_the_labels_and_the_option(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + car(2, x=40) + bike(3))
    report = convert(src, tmp_path / "out")
    messages = [w["message"] for w in report.warnings if "--classes" in w["message"]]
    assert messages == ["rectangles are labelled car (2) and bicycle (1) with different keypoints: for one model "
                        "of both, convert with --classes car,bicycle (docs/guides/multiclass.md)"]
    assert "classes" not in json.loads((tmp_path / "out" / "report.json").read_text())
    assert [c["id"] for c in coco(tmp_path / "out")["categories"]] == [1]


@pytest.mark.parametrize("missing", [(), ("rear_left",)])
def test_without_classes_the_same_keypoints_or_fewer_under_several_labels_say_nothing(tmp_path, missing):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + [dict(s, label="van") if s["shape_type"] == "rectangle" else s
                                      for s in car(2, x=50, missing=missing)])
    report = convert(src, tmp_path / "out")
    assert not [w for w in report.warnings if "--classes" in w["message"]]


def test_append_onto_a_multiclass_dataset_keeps_the_classes(tmp_path):
    """More in tests/mmpx/convert/test_append_multiclass.py."""
    from mmpx.convert.labelme_append import append_labelme

    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    convert(src, tmp_path / "out", classes="car,bicycle")
    more = tmp_path / "more"
    write_lm(more, "b.json", bike(1))
    assert append_labelme(more, tmp_path / "out").instances == 1
    assert coco(tmp_path / "out")["annotations"][-1]["category_id"] == 2


def test_cli_classes_and_repeated_metainfo(tmp_path):
    from typer.testing import CliRunner

    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    cars, bikes = tmp_path / "car.py", tmp_path / "bicycle.py"
    write_metainfo(cars, build_metainfo("car", CAR))
    write_metainfo(bikes, build_metainfo("bicycle", BIKE))
    app = build_app(load_plugins(distributions=[], env={}))
    result = CliRunner().invoke(app, ["convert", "labelme", str(src), str(tmp_path / "out"), "--classes",
                                      "car,bicycle", "--metainfo", str(cars), "--metainfo", str(bikes),
                                      "--images", "none", "--json"])
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in json.loads(result.stdout)["classes"]] == ["car", "bicycle"]


@pytest.mark.stack
def test_the_output_loads_in_xtcocotools_and_mmpose(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    convert(src, tmp_path / "out", classes="car,bicycle")
    from xtcocotools.coco import COCO

    api = COCO(str(tmp_path / "out" / "annotations" / "train.json"))
    assert [c["name"] for c in api.loadCats(api.getCatIds())] == ["car", "bicycle"]
    assert len(api.getAnnIds(catIds=[2])) == 1

    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    meta = parse_pose_metainfo(dict(from_file=str(tmp_path / "out" / "metainfo.py")))
    assert meta["num_keypoints"] == 6
    assert list(meta["flip_indices"]) == [1, 0, 2, 3, 4, 5]  # front_left <-> front_right, within the car


def test_append_with_classes_must_be_the_datasets(tmp_path):
    from mmpx.app.convert import LabelmeRequest, labelme

    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    convert(src, tmp_path / "out", classes="car,bicycle")
    with pytest.raises(MmpxError, match="has the classes car,bicycle"):
        labelme(LabelmeRequest(src, tmp_path / "out", append=True, classes="car,truck"))
