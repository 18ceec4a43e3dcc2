"""``mmpx check data --metainfo`` with a multi-class metainfo: each annotation against its category's class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmpx.check import check_data_report
from mmpx.metainfo import write_metainfo
from mmpx.metainfo.classes import build_classes_metainfo

CAR = ["front_left", "front_right", "rear_left"]
BIKE = ["front_wheel", "rear_wheel"]


def street(tmp_path: Path, edit=None) -> tuple[Path, Path]:
    meta = tmp_path / "street.py"
    write_metainfo(meta, build_classes_metainfo("street", [dict(id=1, name="car", keypoints=CAR),
                                                           dict(id=2, name="bicycle", keypoints=BIKE)]))
    data = dict(
        images=[dict(id=1, file_name="a.png", width=100, height=80)],
        annotations=[
            dict(id=1, image_id=1, category_id=1, bbox=[5, 5, 40, 40], area=1600, iscrowd=0, num_keypoints=3,
                 keypoints=[10, 10, 2, 20, 10, 2, 10, 30, 1]),
            dict(id=2, image_id=1, category_id=1, bbox=[50, 5, 40, 40], area=1600, iscrowd=0, num_keypoints=2,
                 keypoints=[60, 10, 2, 70, 10, 2, 0, 0, 0]),
            dict(id=3, image_id=1, category_id=2, bbox=[5, 45, 40, 30], area=1200, iscrowd=0, num_keypoints=2,
                 keypoints=[10, 50, 2, 30, 50, 2])],
        categories=[dict(id=1, name="car", keypoints=CAR, skeleton=[]),
                    dict(id=2, name="bicycle", keypoints=BIKE, skeleton=[])])
    if edit is not None:
        edit(data)
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    return ann, meta


def check(pair):
    ann, meta = pair
    return check_data_report(ann, metainfo=meta)


def codes(report) -> list[str]:
    return [p.code for p in report.problems if p.severity == "error"]


def test_a_good_multiclass_file_is_clean_and_counted_per_class(tmp_path):
    report = check(street(tmp_path))
    assert report.problems == []
    assert report.classes == [dict(id=1, name="car", keypoints=3, annotations=2, labelled=5),
                              dict(id=2, name="bicycle", keypoints=2, annotations=1, labelled=2)]
    assert "; car: 2 annotations, 5 labelled keypoints; bicycle: 1 annotations" in report.summary()
    assert report.as_dict()["classes"] == report.classes


@pytest.mark.parametrize(("edit", "code"), [
    # a bicycle annotated with the car's 3 keypoints
    (lambda d: d["annotations"][2].update(keypoints=[10, 50, 2, 30, 50, 2, 1, 1, 2]), "keypoints-length"),
    # a category the metainfo does not have
    (lambda d: (d["categories"].append(dict(id=9, name="truck", keypoints=["cab"])),
                d["annotations"][2].update(category_id=9, keypoints=[10, 50, 2])), "unknown-class"),
    # the category's names are not its class's
    (lambda d: d["categories"][1].update(keypoints=BIKE[::-1]), "names-order"),
])
def test_bad_multiclass_files_are_errors(tmp_path, edit, code):
    report = check(street(tmp_path, edit))
    assert code in codes(report), report.problems


def test_a_class_without_a_category_is_a_warning(tmp_path):
    def drop_bicycles(d):
        d["categories"].pop()
        d["annotations"].pop()
    report = check(street(tmp_path, drop_bicycles))
    assert [p.code for p in report.problems] == ["class-absent"]


def test_a_converted_multiclass_dataset_checks_clean_from_the_cli(tmp_path):
    from mmpx.cli.main import build_app
    from mmpx.convert.labelme import convert_labelme
    from mmpx.plugins.manager import load_plugins
    from tests.mmpx.convert.test_convert_labelme import write_lm
    from tests.mmpx.convert.test_convert_multiclass import bike, car

    write_lm(tmp_path / "src", "a.json", car(1) + bike(2))
    write_lm(tmp_path / "src", "b.json", car(1, missing=("rear_left",)))
    convert_labelme(tmp_path / "src", tmp_path / "out", classes="car,bicycle", images="none", val_ratio=0)
    app = build_app(load_plugins(distributions=[], env={}))
    result = CliRunner().invoke(app, ["check", "data", str(tmp_path / "out/annotations/train.json"), "--metainfo",
                                      str(tmp_path / "out/metainfo.py")])
    assert result.exit_code == 0, result.output
    assert "car: 2 annotations, 5 labelled keypoints; bicycle: 1 annotations, 3 labelled keypoints" in \
        " ".join(result.output.split())
