"""Keypoints read where each MMPose dataset class reads them (COCO-WholeBody's five arrays, its face and
hand sub-datasets), and ``mmpx train``'s bare ``--resume``. Torch-free."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmpx.check.data import check_data_report
from mmpx.check.layouts import LAYOUTS, layout_of
from mmpx.cli._launch import bare_resume
from mmpx.metainfo import build_metainfo, write_metainfo

WHOLEBODY = "mmpose-testdata/coco/test_coco_wholebody.json"


def _meta(tmp_path: Path, k: int) -> Path:
    path = tmp_path / f"meta{k}.py"
    write_metainfo(path, build_metainfo(f"k{k}", [f"p{i}" for i in range(k)]))
    return path


@pytest.fixture
def wholebody(shared_data) -> Path:
    return shared_data / WHOLEBODY


@pytest.mark.parametrize("dataset, k", [("CocoWholeBodyDataset", 133), ("CocoWholeBodyFaceDataset", 68),
                                        ("CocoWholeBodyHandDataset", 21)])
def test_wholebody_reads_as_its_dataset_classes_do(wholebody, tmp_path, dataset, k):
    """MMPose's own test file has 51 values in `keypoints` and 133 keypoints in all: no error for any of its
    classes (before: 'keypoints has 51 values, expected 399')."""
    report = check_data_report(wholebody, wholebody.parent, _meta(tmp_path, k), layout=LAYOUTS[dataset])
    assert report.errors == 0, [p.message for p in report.problems if p.severity == "error"]
    assert report.keypoints > 0


def test_wholebody_problems_point_at_the_array_holding_the_keypoint(wholebody, tmp_path):
    report = check_data_report(wholebody, None, _meta(tmp_path, 133), layout=LAYOUTS["CocoWholeBodyDataset"])
    fractions = [p for p in report.problems if p.code == "visibility-fraction"]
    assert fractions and all(p.field.endswith(".righthand_kpts") for p in fractions)


def test_a_missing_array_is_an_error_naming_it(wholebody, tmp_path):
    data = json.loads(wholebody.read_text())
    del data["annotations"][0]["foot_kpts"]
    ann = tmp_path / "wb.json"
    ann.write_text(json.dumps(data))
    report = check_data_report(ann, None, _meta(tmp_path, 133), layout=LAYOUTS["CocoWholeBodyDataset"])
    [problem] = [p for p in report.problems if p.severity == "error"]
    assert problem.field == "annotations[0].foot_kpts" and "has no foot_kpts" in problem.message


def test_hands_are_two_instances_and_invalid_ones_are_skipped(wholebody, tmp_path):
    data = json.loads(wholebody.read_text())
    ann = data["annotations"][0]
    assert ann["lefthand_valid"] is False and ann["righthand_valid"] is True
    ann["lefthand_kpts"] = [1.0] * 5  # not read: MMPose skips a hand that is not valid
    ann["righthand_kpts"] = ann["righthand_kpts"][:-3]
    path = tmp_path / "wb.json"
    path.write_text(json.dumps(data))
    report = check_data_report(path, None, _meta(tmp_path, 21), layout=LAYOUTS["CocoWholeBodyHandDataset"])
    [problem] = [p for p in report.problems if p.severity == "error"]
    assert problem.field == "annotations[0].righthand_kpts" and "60 values, expected 63" in problem.message


def test_mmpx_check_data_recognises_wholebody_by_its_content(wholebody, tmp_path):
    """Without a dataset class (``mmpx check data --metainfo``): the arrays whose sizes fit the metainfo."""
    for k, field in ((133, "keypoints+foot_kpts"), (68, "face_kpts"), (21, "lefthand_kpts")):
        report = check_data_report(wholebody, None, _meta(tmp_path, k))
        assert report.errors == 0 and any(field in note for note in report.notes), report.notes
    report = check_data_report(wholebody, None, _meta(tmp_path, 17))  # COCO's 17 body keypoints
    assert report.errors == 0 and not any("checked where" in note for note in report.notes)


def test_a_subclass_reads_as_its_mmpose_parent():
    assert layout_of(["MyWholeBody", "UBody2dDataset", "CocoWholeBodyDataset", "BaseCocoStyleDataset"]) \
        is LAYOUTS["CocoWholeBodyDataset"]
    assert layout_of(["CocoDataset", "BaseCocoStyleDataset", "BaseDataset", "object"]) is None


@pytest.mark.parametrize("argv, expected", [
    (["train", "c.py", "--resume"], ["train", "c.py", "--resume", "auto"]),
    (["train", "c.py", "--resume", "--work-dir", "w"], ["train", "c.py", "--resume", "auto", "--work-dir", "w"]),
    (["train", "c.py", "--resume", "auto"], ["train", "c.py", "--resume", "auto"]),
    (["train", "c.py", "--resume", "w/epoch_3.pth"], ["train", "c.py", "--resume", "w/epoch_3.pth"]),
    (["train", "c.py", "--resume=w/epoch_3.pth"], ["train", "c.py", "--resume=w/epoch_3.pth"]),
])
def test_a_bare_resume_means_auto(argv, expected):
    assert bare_resume(argv) == expected
