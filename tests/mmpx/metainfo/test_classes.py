"""Multi-class metainfo files: written, loaded and read back (``keypoint_classes``, ``class_specs``), checked
(``validate_metainfo``, ``mmpx metainfo check``), and made from a COCO file with several categories
(``mmpx metainfo from-coco --all-categories``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmpx.errors import MmpxError
from mmpx.metainfo import load_metainfo, validate_metainfo, write_metainfo
from mmpx.metainfo.classes import build_classes_metainfo, class_specs, keypoint_classes
from mmpx.metainfo.coco import from_coco

CAR = ["front_left", "front_right", "rear_left", "rear_right"]
BIKE = ["front_wheel", "rear_wheel", "left_handlebar", "right_handlebar"]
CLASSES = [dict(id=1, name="car", keypoints=CAR, skeleton=[("front_left", "front_right")]),
           dict(id=2, name="bicycle", keypoints=BIKE, skeleton=[("front_wheel", "rear_wheel")],
                sigmas=[0.1, 0.2, 0.3, 0.4])]


def _app():
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return build_app(load_plugins(distributions=[], env={}))


def test_round_trip_write_load_classes_and_specs(tmp_path):
    path = tmp_path / "street.py"
    write_metainfo(path, build_classes_metainfo("street", CLASSES))
    info = load_metainfo(path)
    assert validate_metainfo(info, str(path)) == []
    classes = keypoint_classes(info)
    assert [(c.id, c.name, c.start, c.stop) for c in classes] == [(1, "car", 0, 4), (2, "bicycle", 4, 8)]
    assert classes[1].union_names[2] == "bicycle/left_handlebar"
    specs = class_specs(info)
    assert specs[0]["swaps"] == {"front_left": "front_right", "front_right": "front_left",
                                 "rear_left": "rear_right", "rear_right": "rear_left"}
    assert specs[1]["skeleton"] == [("front_wheel", "rear_wheel")] and specs[1]["sigmas"] == [0.1, 0.2, 0.3, 0.4]
    again = build_classes_metainfo("street", specs)
    assert again == info
    assert class_specs(load_metainfo(_one_class(tmp_path))) is None


def _one_class(tmp_path: Path) -> Path:
    from mmpx.metainfo import build_metainfo

    path = tmp_path / "car.py"
    write_metainfo(path, build_metainfo("car", CAR))
    return path


def _edited(edit) -> dict:
    info = build_classes_metainfo("street", CLASSES)
    edit(info)
    return info


@pytest.mark.parametrize(("edit", "code", "field"), [
    (lambda i: i["classes"].pop(), "classes", "classes"),
    (lambda i: i["classes"][1].update(keypoints=BIKE[::-1]), "classes", "classes"),
    (lambda i: i["classes"][1].update(id=1), "classes", "classes"),
    (lambda i: (i["keypoint_info"][2].update(swap="bicycle/front_wheel"), i["keypoint_info"][3].update(swap=""),
                i["keypoint_info"][4].update(swap="car/rear_left")), "class-swap", "keypoint_info[2].swap"),
    (lambda i: i["skeleton_info"].update({2: dict(link=("car/front_left", "bicycle/saddle"), id=2,
                                                  color=[0, 0, 0])}), "link", "skeleton_info[2].link"),
    (lambda i: i["skeleton_info"].update({2: dict(link=("car/front_left", "bicycle/rear_wheel"), id=2,
                                                  color=[0, 0, 0])}), "class-link", "skeleton_info[2].link"),
])
def test_a_broken_multiclass_file_is_a_problem_with_its_own_code(edit, code, field):
    problems = [p for p in validate_metainfo(_edited(edit), "m.py") if p.severity == "error"]
    assert [(p.code, p.field) for p in problems][:1] == [(code, field)], problems


def test_metainfo_check_lists_the_classes(tmp_path):
    path = tmp_path / "street.py"
    write_metainfo(path, build_classes_metainfo("street", CLASSES))
    result = CliRunner().invoke(_app(), ["metainfo", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "class car (id 1): 4 keypoints" in result.output
    assert "class bicycle (id 2): 4 keypoints" in result.output
    result = CliRunner().invoke(_app(), ["metainfo", "check", str(path), "--json"])
    assert json.loads(result.stdout)["classes"] == [dict(name="car", id=1, keypoints=4),
                                                    dict(name="bicycle", id=2, keypoints=4)]
    broken = tmp_path / "broken.py"
    write_metainfo(broken, _edited(lambda i: i["classes"].pop()))
    result = CliRunner().invoke(_app(), ["metainfo", "check", str(broken), "--json"])
    assert result.exit_code == 1
    problem = json.loads(result.stdout)["problems"][0]
    assert problem["code"] == "classes" and "a multi-class metainfo has two or more" in problem["message"]


def _coco(path: Path, categories: list[dict]) -> Path:
    path.write_text(json.dumps(dict(images=[], annotations=[], categories=categories)))
    return path


def test_from_coco_all_categories_writes_a_multiclass_file(tmp_path):
    ann = _coco(tmp_path / "street.json", [
        dict(id=1, name="car", keypoints=CAR, skeleton=[[1, 2]]),
        dict(id=3, name="bicycle", keypoints=BIKE, skeleton=[[1, 2], [3, 4]])])
    with pytest.raises(MmpxError) as caught:
        from_coco(ann)
    assert "--all-categories" in caught.value.hint
    made = from_coco(ann, all_categories=True)
    classes = keypoint_classes(made.info)
    assert [(c.id, c.name, c.keypoints) for c in classes] == [(1, "car", tuple(CAR)), (3, "bicycle", tuple(BIKE))]
    assert [s["link"] for s in made.info["skeleton_info"].values()] == [
        ("car/front_left", "car/front_right"), ("bicycle/front_wheel", "bicycle/rear_wheel"),
        ("bicycle/left_handlebar", "bicycle/right_handlebar")]
    assert "2 classes, one per category" in made.notes[0]
    out = tmp_path / "meta.py"
    result = CliRunner().invoke(_app(), ["metainfo", "from-coco", str(ann), str(out), "--all-categories"])
    assert result.exit_code == 0, result.output
    assert keypoint_classes(load_metainfo(out))[1].name == "bicycle"


@pytest.mark.parametrize(("categories", "kw", "message"), [
    ([dict(id=1, name="car", keypoints=CAR)], {}, "1 class"),
    ([dict(id=1, name="car", keypoints=CAR), dict(id=2, name="bike", keypoints=[])], {}, "names no keypoints"),
    ([dict(id=1, name="car", keypoints=CAR), dict(id=2, name="car", keypoints=BIKE)], {}, "repeats"),
    ([dict(id=1, name="car", keypoints=CAR), dict(id=2, name="b", keypoints=BIKE)], dict(category_id=1),
     "not with --category-id"),
])
def test_from_coco_all_categories_refuses_what_is_no_multiclass_set(tmp_path, categories, kw, message):
    with pytest.raises(MmpxError, match=message):
        from_coco(_coco(tmp_path / "a.json", categories), all_categories=True, **kw)
