"""``mmpx check data``: one test per class of problem, the real files, the CLI, speed, light imports."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmpx.check import check_data, check_data_report
from mmpx.metainfo import build_metainfo, write_metainfo

NAMES = ["nose", "left_eye", "right_eye", "tail"]


def make_dataset(root: Path) -> dict:
    """Two clean 64x48 images (PNG and JPEG) with one 4-keypoint instance each; returns the COCO dict."""
    import cv2

    (root / "images").mkdir(parents=True, exist_ok=True)
    img = np.full((48, 64, 3), 90, np.uint8)
    cv2.imwrite(str(root / "images/a.png"), img)
    noise = np.random.default_rng(0).integers(0, 255, img.shape, dtype=np.uint8)  # a JPEG with real scan data
    cv2.imwrite(str(root / "images/b.jpg"), noise)
    kpts = [20, 10, 2, 15, 8, 2, 25, 8, 1, 0, 0, 0]
    return dict(
        images=[dict(id=1, file_name="a.png", width=64, height=48),
                dict(id=2, file_name="b.jpg", width=64, height=48)],
        annotations=[dict(id=9 + i, image_id=i, category_id=1, bbox=[10, 5, 30, 20], num_keypoints=3,
                          iscrowd=0, area=600, keypoints=list(kpts)) for i in (1, 2)],
        categories=[dict(id=1, name="cat", keypoints=NAMES, skeleton=[[1, 2], [1, 3]])],
    )


def run(tmp_path: Path, data, metainfo=None, images=True):
    ann = tmp_path / "ann.json"
    ann.write_text(data if isinstance(data, str) else json.dumps(data))
    return check_data(ann, tmp_path / "images" if images else None, metainfo)


@pytest.fixture
def data(tmp_path) -> dict:
    return make_dataset(tmp_path)


def only(problems, code):
    hits = [p for p in problems if p.code == code]
    assert hits, [(p.code, p.message) for p in problems]
    return hits[0]


def test_clean_dataset_has_no_problems(tmp_path, data):
    assert run(tmp_path, data) == []


def test_invalid_json_and_missing_keys(tmp_path, data):
    p = only(run(tmp_path, '{"images": [', images=False), "json")
    assert p.severity == "error" and p.where.startswith(str(tmp_path / "ann.json")) and "line 1" in p.where
    del data["categories"]
    p = only(run(tmp_path, data), "top-key")
    assert p.where.endswith("ann.json:categories")


def test_not_coco_names_the_format(tmp_path):
    p = only(run(tmp_path, json.dumps([{"file": "x.jpg", "points": []}]), images=False), "format")
    assert "not a COCO keypoint file" in p.message and "'file', 'points'" in p.message


@pytest.mark.parametrize("damage, code, text", [
    (lambda d: (d / "a.png").unlink(), "image-missing", "not found"),
    (lambda d: (d / "a.png").write_bytes(b""), "image-corrupt", "0 bytes"),
    (lambda d: (d / "b.jpg").write_bytes((d / "b.jpg").read_bytes()[:2000]), "image-corrupt", "truncated"),
])
def test_missing_and_corrupt_images(tmp_path, data, damage, code, text):
    damage(tmp_path / "images")
    p = only(run(tmp_path, data), code)
    assert p.severity == "error" and text in p.message and p.field.startswith("images[")


def test_image_size_mismatch(tmp_path, data):
    data["images"][1]["width"] = 100
    p = only(run(tmp_path, data), "image-size")
    assert "64x48 but width/height say 100x48" in p.message and p.field == "images[1].width"


@pytest.mark.parametrize("edit, code, field", [
    (lambda d: d["images"][1].update(id=1), "dup-image-id", "images[1].id"),
    (lambda d: d["annotations"][1].update(id=10), "dup-ann-id", "annotations[1].id"),
    (lambda d: d["annotations"][0].update(image_id=99), "unknown-image", "annotations[0].image_id"),
    (lambda d: d["annotations"][0].update(category_id=5), "unknown-category", "annotations[0].category_id"),
    (lambda d: d["annotations"][0].update(bbox=[10, 5, 0, 20]), "bbox-empty", "annotations[0].bbox"),
    (lambda d: d["annotations"][0].update(bbox=[70, 5, 10, 20]), "bbox-outside", "annotations[0].bbox"),
    (lambda d: d["annotations"][0]["keypoints"].pop(), "keypoints-length", "annotations[0].keypoints"),
    (lambda d: d["annotations"][0].update(num_keypoints=4), "num-keypoints", "annotations[0].num_keypoints"),
    (lambda d: d["annotations"][1]["keypoints"].__setitem__(5, 3), "visibility", "annotations[1].keypoints"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, 70), "kpt-outside-image",
     "annotations[0].keypoints"),
])
def test_errors_name_the_field(tmp_path, data, edit, code, field):
    edit(data)
    p = only(run(tmp_path, data), code)
    assert p.severity == "error" and p.field == field and p.file.endswith("ann.json")


@pytest.mark.parametrize("edit, code, text", [
    (lambda d: d["annotations"][0].update(bbox=[10, 5, 60, 20]), "bbox-partly-outside", "MMPose clips"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(0, 50), "kpt-outside-box", "keypoint 0 (nose)"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(2, 0.25), "visibility-fraction",
     "visibility 0.25"),
    (lambda d: d["annotations"][0]["keypoints"].__setitem__(slice(9, 11), [5, 5]), "kpt-invisible-coords",
     "keypoint 3 (tail) at (5, 5)"),
])
def test_warnings(tmp_path, data, edit, code, text):
    edit(data)
    problems = run(tmp_path, data)
    p = only(problems, code)
    assert p.severity == "warning" and text in p.message and "annotation 10" in p.message
    assert all(q.severity == "warning" for q in problems)


def test_metainfo_problems_and_name_checks(tmp_path, data):
    meta = tmp_path / "meta.py"
    info = build_metainfo("cats", NAMES)
    info["sigmas"] = info["sigmas"][:3]
    write_metainfo(meta, info)
    p = only(run(tmp_path, data, meta), "sigmas")
    assert p.where == f"{meta}:sigmas" and "3 values for 4 keypoints" in p.message
    write_metainfo(meta, build_metainfo("cats", ["nose", "right_eye", "left_eye", "tail"]))
    assert only(run(tmp_path, data, meta), "names-order").severity == "error"
    write_metainfo(meta, build_metainfo("cats", ["nose", "eye_l", "eye_r", "tail"]))
    assert only(run(tmp_path, data, meta), "names-differ").severity == "warning"
    write_metainfo(meta, build_metainfo("cats", NAMES + ["paw"]))
    assert "expected 15" in only(run(tmp_path, data, meta), "keypoints-length").message


def test_prefix_mapping_is_found_and_reported(tmp_path, data):
    for img in data["images"]:
        img["file_name"] = "Set/images/" + img["file_name"]
    report = check_data_report(_write(tmp_path, data), tmp_path / "images")
    assert report.errors == 0 and only(report.problems, "image-path-prefix").severity == "warning"
    assert any("'Set/images/' dropped" in note for note in report.notes)


def _write(tmp_path, data) -> Path:
    ann = tmp_path / "ann.json"
    ann.write_text(json.dumps(data))
    return ann


@pytest.mark.parametrize("value, text", [
    ("12", "value 0 is '12' (a string), not a number"),  # before: read as 12, reported "outside the box"
    (None, "value 0 is None (null), not a number"),
    (float("nan"), "value 0 is nan"),
])
def test_keypoint_values_that_are_not_numbers(tmp_path, data, value, text):
    data["annotations"][0]["keypoints"][0] = value
    problems = run(tmp_path, data)
    p = only(problems, "keypoints-type")
    assert p.severity == "error" and p.field == "annotations[0].keypoints" and text in p.message, p.message
    assert "annotation 10" in p.message and not any(q.code == "kpt-outside-box" for q in problems)


def test_mpii_records(tmp_path):
    import cv2

    (tmp_path / "images").mkdir()
    cv2.imwrite(str(tmp_path / "images/001.jpg"), np.zeros((40, 50, 3), np.uint8))
    joints = [[10.0, 10.0]] * 16
    rec = dict(image="001.jpg", joints=joints, joints_vis=[1] * 16, center=[25.0, 20.0], scale=0.2)
    good = [rec, dict(rec, joints=[[-1.0, -1.0]] + joints[1:], joints_vis=[0] + [1] * 15)]
    report = check_data_report(_write(tmp_path, good), tmp_path / "images")
    assert (report.format, report.errors, report.warnings, report.keypoints) == ("mpii", 0, 0, 31)
    bad = [dict(rec, image="a.jpg"), dict(rec, joints_vis=[2] * 16), dict(rec, joints=[[60.0, 10.0]] * 16),
           dict(rec, scale=0), dict(rec, joints_vis=["1"] + [1] * 15)]
    problems = run(tmp_path, json.dumps(bad))
    assert "value 2 is '1' (a string)" in only(problems, "keypoints-type").message
    assert only(problems, "mpii-record").where.endswith("ann.json:[0].image")
    assert only(problems, "visibility").field == "[1].joints"
    assert only(problems, "kpt-outside-image").field == "[2].joints"
    assert any(p.field == "[3].scale" for p in problems)


HUMANART_21 = "humanart21.py"


@pytest.mark.parametrize("folder, ann, metainfo", [
    ("coco", "test_coco.json", None),
    ("humanart", "test_humanart.json", None),
    ("humanart", "test_humanart.json", HUMANART_21),
    ("mpii", "test_mpii.json", None),
])
def test_real_files_have_no_errors(shared_data, folder, ann, metainfo):
    from tests.mmpx.metainfo.test_metainfo import MMPOSE_DATASETS

    if metainfo and MMPOSE_DATASETS is None:
        pytest.skip("needs mmpose's metainfo files (the full tier has them)")
    root = shared_data / "mmpose-testdata" / folder
    report = check_data_report(root / ann, root, MMPOSE_DATASETS / metainfo if metainfo else None)
    assert report.errors == 0, [p.message for p in report.problems]
    expected = {"coco": {"kpt-outside-box"}, "humanart": {"image-path-prefix"}, "mpii": set()}[folder]
    assert {p.code for p in report.problems} == expected
    assert report.images > 0 and report.keypoints > 0


def test_ten_thousand_annotations_check_fast(tmp_path):
    rng = np.random.default_rng(0)
    images = [dict(id=i, file_name=f"{i}.jpg", width=640, height=480) for i in range(2000)]
    anns = []
    for i in range(10_000):
        xy = rng.uniform(100, 300, (17, 2))
        kp = np.concatenate([xy, np.full((17, 1), 2)], axis=1).round(1).ravel().tolist()
        anns.append(dict(id=i, image_id=i % 2000, category_id=1, bbox=[90, 90, 220, 220], num_keypoints=17,
                         keypoints=kp))
    cats = [dict(id=1, name="person", keypoints=[f"k{k}" for k in range(17)])]
    ann = _write(tmp_path, dict(images=images, annotations=anns, categories=cats))
    elapsed = []
    for _ in range(2):  # best of two: the machine may be busy
        start = time.perf_counter()
        report = check_data_report(ann)
        elapsed.append(time.perf_counter() - start)
    assert report.problems == [] and report.keypoints == 170_000
    assert min(elapsed) < 1.0, elapsed  # about 0.3 s on a 2-core machine, JSON parsing included


def _app():
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return build_app(load_plugins())


def test_cli_exit_codes_json_and_row_cap(tmp_path, data):
    runner, ann = CliRunner(env={"COLUMNS": "300"}), _write(tmp_path, data)
    result = runner.invoke(_app(), ["check", "data", str(ann), "--images", str(tmp_path / "images")])
    assert result.exit_code == 0 and "0 errors, 0 warnings" in result.output
    for a in data["annotations"]:
        a["keypoints"][0] = 50  # outside the box: warnings only
    _write(tmp_path, data)
    result = runner.invoke(_app(), ["check", "data", str(ann), "--json"])
    assert result.exit_code == 0
    out = json.loads(result.output)
    assert {"file", "format", "images", "annotations", "keypoints", "errors", "warnings", "notes",
            "problems"} <= set(out)
    assert out["warnings"] == 2 and set(out["problems"][0]) >= {"severity", "where", "message", "hint"}
    data["annotations"][1]["id"] = 10
    _write(tmp_path, data)
    result = runner.invoke(_app(), ["check", "data", str(ann), "--max-rows", "1"])
    assert result.exit_code == 1 and "and 2 more (0 errors, 2 warnings)" in result.output
    assert "duplicate annotation id 10" in result.output


def test_check_data_does_not_import_heavy_packages(tmp_path, data):
    ann = _write(tmp_path, data)
    code = (
        "import sys\nfrom mmpx.cli.main import main\n"
        f"try:\n    main(['check', 'data', {str(ann)!r}, '--images', {str(tmp_path / 'images')!r}])\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "print('HEAVY', sorted(m for m in ('torch', 'mmengine', 'mmpose', 'mmpose_ext', 'mmcv') "
        "if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout
