"""``mmpx convert labelme --append`` onto a dataset of several classes: the new instances keep their class (the
rectangle's label), each laid out and checked by its own class's keypoints; a class the dataset does not have, a
point of another class, ``--classes`` or ``--category`` that disagree are refused with the fix; the old records
stay byte for byte."""

from __future__ import annotations

import json

import pytest

from mmpx.convert.labelme_append import append_labelme
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_classes, load_metainfo
from tests.helpers import mmpx
from tests.mmpx.convert.test_convert_labelme import coco, rect, shape, write_lm
from tests.mmpx.convert.test_convert_multiclass import BIKE, CAR, bike, car, convert


@pytest.fixture
def dataset(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1) + bike(2))
    write_lm(src, "b.json", car(1, x=20))
    out = tmp_path / "out"
    convert(src, out, classes="car,bicycle")
    return out


def _records(out) -> tuple[str, list[dict]]:
    text = (out / "annotations" / "train.json").read_text()
    return text, json.loads(text)["annotations"]


def test_new_instances_keep_their_class(dataset, tmp_path):
    before, old = _records(dataset)
    meta_before = (dataset / "metainfo.py").read_text()
    more = tmp_path / "more"
    write_lm(more, "c.json", bike(1, x=30) + car(2, x=5, missing=("saddle",)))
    write_lm(more, "d.json", bike(1))
    report = append_labelme(more, dataset, val_ratio=0)
    assert report.files_converted == 2 and report.instances == 3 and not report.skipped
    after, anns = _records(dataset)
    assert after.startswith(before.split('\n"images"')[0])
    assert anns[:len(old)] == old  # the old records as they were
    new = anns[len(old):]
    assert [(a["image_id"], a["category_id"], a["num_keypoints"]) for a in new] == [(3, 2, 3), (3, 1, 3), (4, 2, 3)]
    assert new[0]["keypoints"] == [30, 50, 2, 31, 51, 2, 32, 52, 2]  # the bicycle's own 3 keypoints, sorted names
    assert len(new[1]["keypoints"]) == 3 * len(CAR)
    data = coco(dataset)
    assert [(c["id"], c["name"], c["keypoints"]) for c in data["categories"]] == [
        (1, "car", sorted(CAR)), (2, "bicycle", sorted(BIKE))]
    assert (dataset / "metainfo.py").read_text() == meta_before
    assert [c.name for c in keypoint_classes(load_metainfo(dataset / "metainfo.py"))] == ["car", "bicycle"]
    saved = json.loads((dataset / "report.json").read_text())
    assert saved["dataset"]["instances"] == 6


def test_a_class_the_dataset_lacks_is_refused_with_the_fix(dataset, tmp_path):
    more = tmp_path / "more"
    write_lm(more, "c.json", car(1) + [rect(60, 45, 90, 75, 2, label="truck"),
                                       shape("front_left", points=[(70, 50)], group=2)])
    write_lm(more, "d.json", bike(1))
    report = append_labelme(more, dataset, val_ratio=0)
    assert report.files_converted == 1
    (skip,) = report.skipped
    assert "'truck' (shape 5) names no class of the dataset" in skip["reason"] and "(car, bicycle)" in skip["reason"]
    assert "--classes car,bicycle,NEW --overwrite" in skip["hint"]
    with pytest.raises(MmpxError, match="names no class of the dataset"):
        append_labelme(more, dataset, val_ratio=0, strict=True)


def test_a_point_of_another_class_is_refused(dataset, tmp_path):
    more = tmp_path / "more"
    write_lm(more, "c.json", [rect(5, 10, 40, 40, 1, label="car"), shape("saddle", points=[(10, 20)], group=1)])
    with pytest.raises(MmpxError, match="'saddle' .* is no keypoint of the class 'car'"):
        append_labelme(more, dataset, strict=True)


def test_options_must_agree(dataset, tmp_path):
    more = tmp_path / "more"
    write_lm(more, "c.json", bike(1))
    with pytest.raises(MmpxError, match="has the classes car,bicycle"):
        append_labelme(more, dataset, classes="bicycle,car")
    with pytest.raises(MmpxError, match="several classes"):
        append_labelme(more, dataset, category="car")
    with pytest.raises(MmpxError, match="each with its own keypoints"):
        append_labelme(more, dataset, keypoints=",".join(CAR))
    assert append_labelme(more, dataset, classes="car,bicycle", metainfo=dataset / "metainfo.py").files_converted


def test_classes_onto_one_class_is_refused(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "a.json", car(1))
    convert(src, tmp_path / "out")
    with pytest.raises(MmpxError, match="has one class"):
        append_labelme(src, tmp_path / "out", classes="car,bicycle")


def test_categories_and_metainfo_disagreeing_are_refused(dataset, tmp_path):
    for split in ("train", "val"):
        path = dataset / "annotations" / f"{split}.json"
        path.write_text(path.read_text().replace('"name": "bicycle"', '"name": "bike"'))
    more = tmp_path / "more"
    write_lm(more, "c.json", bike(1))
    with pytest.raises(MmpxError, match="are not the classes of"):
        append_labelme(more, dataset)


def test_cli(dataset, tmp_path):
    more = tmp_path / "more"
    write_lm(more, "c.json", bike(1))
    result = mmpx("convert", "labelme", str(more), str(dataset), "--append", "--classes", "car,bicycle")
    assert result.returncode == 0, result.stderr
    assert [a["category_id"] for a in coco(dataset)["annotations"]][-1] == 2


def test_sleapio_append_onto_several_classes_is_refused(dataset, tmp_path):
    from mmpx.convert.sleapio_append import append_sleapio

    with pytest.raises(MmpxError, match="holds several classes .*mmpx convert dlc writes one class"):
        append_sleapio("dlc", tmp_path / "project", dataset)
