"""Bad values are per-file errors naming the file and field: 1e400
coordinates, imageWidth NaN and deeply nested JSON no longer abort a whole conversion or check; an empty
categories list and out-of-range skeleton indices are reported by `mmpx check data`."""

from __future__ import annotations

import json
import sys

from mmpx.check import check_data_report
from tests.helpers import run
from tests.mmpx.convert.test_convert_labelme import _dataset, convert

DEEP = "[" * 100000 + "]" * 100000


def test_conversion_skips_each_bad_file_with_its_reason(tmp_path):
    src = _dataset(tmp_path / "src", n=3)
    good = (src / "img000.json").read_text()
    (src / "inf.json").write_text(good.replace("[0, 5]", "[1e400, 5]"))
    (src / "nan.json").write_text(good.replace('"imageWidth": 100', '"imageWidth": NaN'))
    (src / "huge.json").write_text(good.replace('"imageWidth": 100', '"imageWidth": 1e400'))
    (src / "deep.json").write_text(DEEP)
    report = convert(src, tmp_path / "out")
    reasons = {s["file"].rsplit("/", 1)[-1]: s["reason"] for s in report.skipped}
    assert report.files_converted == 3
    assert reasons == {
        "deep.json": "invalid JSON: nested too deeply to read",
        "huge.json": "imageWidth must be a positive whole number, got inf",
        "inf.json": "point 'nose' (shape 2) has non-numeric coordinates [inf, 5]",
        "nan.json": "imageWidth must be a positive whole number, got nan",
    }


def _coco(path, **changes):
    data = dict(images=[dict(id=1, file_name="a.png", width=100, height=80)],
                annotations=[dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 50, 50], area=2500, iscrowd=0,
                                  num_keypoints=2, keypoints=[10, 10, 2, 20, 20, 2])],
                categories=[dict(id=1, name="car", keypoints=["a", "b"], skeleton=[[1, 2]])])
    data.update(changes)
    path.write_text(json.dumps(data))
    return path


def test_check_data_reports_what_used_to_pass(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    codes = {p.code for p in check_data_report(deep).problems}
    assert "json" in codes
    cat = dict(id=1, name="car", keypoints=["a", "b"], skeleton=[[1, 9], [0, 1]])
    problems = check_data_report(_coco(tmp_path / "skel.json", categories=[cat])).problems
    assert [p.where.rsplit(":", 1)[1] for p in problems if p.code == "skeleton-index"] == [
        "categories[0].skeleton[0]", "categories[0].skeleton[1]"]
    problems = check_data_report(_coco(tmp_path / "nocat.json", categories=[])).problems
    assert any(p.code == "no-categories" and p.severity == "error" for p in problems)
    assert check_data_report(_coco(tmp_path / "ok.json")).errors == 0


def test_metainfo_from_coco_names_a_deep_file(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP)
    result = run([sys.executable, "-m", "mmpx", "metainfo", "from-coco", str(deep), str(tmp_path / "m.py")])
    assert result.returncode == 1 and f"{deep}: not valid JSON" in result.stderr
    assert "unexpected" not in result.stderr


def test_check_data_warns_on_degenerate_instances(tmp_path):
    """What a group_id typo used to make: a 2x2 box around one keypoint."""
    phantom = dict(id=2, image_id=1, category_id=1, bbox=[69, 59, 2, 2], area=4, iscrowd=0, num_keypoints=1,
                   keypoints=[70, 60, 2, 0, 0, 0])
    good = dict(id=1, image_id=1, category_id=1, bbox=[0, 0, 50, 50], area=2500, iscrowd=0, num_keypoints=2,
                keypoints=[10, 10, 2, 20, 20, 2])
    problems = check_data_report(_coco(tmp_path / "p.json", annotations=[good, phantom])).problems
    codes = {p.code: p for p in problems}
    assert codes["tiny-box"].severity == "warning" and "annotation 2: box 2x2 px" in codes["tiny-box"].message
    assert "1 instance(s) have a single labelled keypoint, e.g. annotation 2" in codes["single-keypoint"].message
    assert check_data_report(_coco(tmp_path / "ok.json", annotations=[good])).problems == []
