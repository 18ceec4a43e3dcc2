"""``mmpx metainfo from-coco`` on every keypoint set of the shared test data: categories sharing one
list (AP-10K's 54 species), a category without names (300W: numbered names, the count from the annotations, a
warning naming MMPose's files with that count), and ``--like`` taking names, swaps and sigmas from another
metainfo by position or by name. Torch-free: MMPose's files are found and read, never imported."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, keypoint_names, load_metainfo, validate_metainfo, write_metainfo
from mmpx.metainfo.coco import from_coco

HAS_MMPOSE = importlib.util.find_spec("mmpose") is not None  # its files are read; absent in the torch-free venv
needs_mmpose_files = pytest.mark.skipif(not HAS_MMPOSE, reason="MMPose's dataset metainfo files are not installed")

# every annotation set of the shared test data that is not COCO-17, with its keypoint count
SETS = {"ap10k": 17, "animalpose": 20, "horse10": 22, "macaque": 17, "zebra": 9, "locust": 35, "fly": 32,
        "300w": 68, "onehand10k": 21}


def _ann(shared_data: Path, name: str) -> Path:
    return shared_data / "mmpose-testdata" / name / f"test_{name}.json"


def _coco(path: Path, categories: list[dict], annotations: list[dict] = ()) -> Path:
    path.write_text(json.dumps(dict(images=[], annotations=list(annotations), categories=categories)))
    return path


def _points(k: int, ann_id: int = 1, category_id: int = 1) -> dict:
    return dict(id=ann_id, image_id=1, category_id=category_id, keypoints=[1.0, 2.0, 2] * k)


@pytest.mark.parametrize("name", sorted(SETS))
def test_every_shared_set_makes_a_valid_metainfo(shared_data, name, tmp_path):
    made = from_coco(_ann(shared_data, name))
    assert len(keypoint_names(made.info)) == SETS[name]
    assert not [p for p in validate_metainfo(made.info) if p.severity == "error"]
    write_metainfo(tmp_path / "m.py", made.info)
    assert load_metainfo(tmp_path / "m.py")["keypoint_info"] == made.info["keypoint_info"]


def test_ap10k_species_share_one_list(shared_data):
    made = from_coco(_ann(shared_data, "ap10k"))
    assert made.notes == [made.notes[0]] and made.notes[0].startswith("54 categories share one keypoint list")
    assert "1 (antelope)" in made.notes[0] and not made.warnings
    assert keypoint_names(made.info)[:3] == ["left_eye", "right_eye", "nose"]
    assert sum(1 for kp in made.info["keypoint_info"].values() if kp["swap"]) == 14
    assert keypoint_names(from_coco(_ann(shared_data, "ap10k"), category_id=26).info) == keypoint_names(made.info)


def test_300w_without_names_gets_numbered_names_and_a_warning(shared_data):
    made = from_coco(_ann(shared_data, "300w"))
    assert keypoint_names(made.info) == [f"kpt_{i}" for i in range(68)]
    assert not any(kp["swap"] for kp in made.info["keypoint_info"].values()) and not made.info["skeleton_info"]
    (warning,) = made.warnings
    assert "category 1 (face) names no keypoints" in warning and "kpt_0..kpt_67" in warning
    assert "test_300w.json" in warning
    if HAS_MMPOSE:
        assert "with 68 keypoints: 300w, 300vw, 300wlp, coco_wholebody_face" in warning
        assert "--like 300w " in warning


def test_different_lists_are_an_error_listing_the_ids(tmp_path):
    two = _coco(tmp_path / "two.json", [dict(id=1, name="a", keypoints=["x"]), dict(id=2, name="b", keypoints=["y"]),
                                        dict(id=5, name="c", keypoints=["x"])])
    with pytest.raises(MmpxError, match="two.json") as info:
        from_coco(two)
    assert "3 categories have keypoints, in 2 different lists" in info.value.message
    assert "1 keypoints: 1 (a), 5 (c)" in info.value.message and "2 (b)" in info.value.message
    assert "--category-id" in info.value.hint
    assert keypoint_names(from_coco(two, category_id=2).info) == ["y"]
    with pytest.raises(MmpxError, match="no category with id 9"):
        from_coco(two, category_id=9)


def test_no_names_counts_must_agree_and_exist(tmp_path):
    cat = [dict(id=1, name="face", keypoints=[])]
    mixed = _coco(tmp_path / "mixed.json", cat, [_points(5, 1), _points(5, 2), _points(3, 3)])
    with pytest.raises(MmpxError, match="mixed.json") as info:
        from_coco(mixed)
    assert "3 keypoints in 1 (e.g. id 3); 5 keypoints in 2 (e.g. id 1)" in info.value.message
    empty = _coco(tmp_path / "empty.json", cat)
    with pytest.raises(MmpxError, match="number of keypoints is unknown"):
        from_coco(empty)
    odd = _coco(tmp_path / "odd.json", cat, [dict(_points(2), keypoints=[1, 2, 2, 4])])
    with pytest.raises(MmpxError, match="not a multiple of 3"):
        from_coco(odd)
    text = _coco(tmp_path / "text.json", [dict(id=1, name="face", keypoints="nose")])
    with pytest.raises(MmpxError, match="keypoints is 'nose', not a list"):
        from_coco(text)
    # an unnamed category picked by id counts only its own annotations
    two = _coco(tmp_path / "two.json", [dict(id=1, name="a", keypoints=[]), dict(id=2, name="b", keypoints=[])],
                [_points(4, 1, 1), _points(6, 2, 2)])
    assert len(keypoint_names(from_coco(two, category_id=2).info)) == 6


def test_like_a_file_by_position_for_numbered_keypoints(tmp_path):
    nameless = _coco(tmp_path / "wings.json", [dict(id=1, name="bird", keypoints=[])], [_points(3)])
    like = tmp_path / "birds.py"
    write_metainfo(like, build_metainfo("birds", ["beak", "left_wing", "right_wing"], [("beak", "left_wing")],
                                        sigmas=[0.1, 0.2, 0.3], joint_weights=[1.0, 2.0, 3.0]))
    made = from_coco(nameless, like=str(like))
    info = made.info
    assert keypoint_names(info) == ["beak", "left_wing", "right_wing"] and info["dataset_name"] == "wings"
    assert info["keypoint_info"][1]["swap"] == "right_wing" and info["sigmas"] == [0.1, 0.2, 0.3]
    assert info["joint_weights"] == [1.0, 2.0, 3.0] and info["skeleton_info"][0]["link"] == ("beak", "left_wing")
    assert not made.warnings and "took names, skeleton (1 links), swaps (1 pairs)" in made.notes[0]
    write_metainfo(tmp_path / "other.py", build_metainfo("x", ["a", "b"]))
    with pytest.raises(MmpxError, match=r"other.py, 2 keypoints\): the annotation file has 3 keypoints"):
        from_coco(nameless, like=str(tmp_path / "other.py"))
    with pytest.raises(MmpxError, match="no such metainfo file"):
        from_coco(nameless, like=str(tmp_path / "missing.py"))


def test_like_by_name_reorders_and_refuses_other_names(tmp_path):
    named = _coco(tmp_path / "named.json", [dict(id=1, name="bird", keypoints=["right_wing", "beak", "left_wing"])])
    like = tmp_path / "birds.py"
    write_metainfo(like, build_metainfo("birds", ["L_Wing", "Beak", "R_Wing"], [("Beak", "L_Wing")],
                                        sigmas=[0.1, 0.2, 0.3]))
    made = from_coco(named, like=str(like))
    info = made.info
    assert keypoint_names(info) == ["right_wing", "beak", "left_wing"]  # the annotations' names and order stay
    assert info["sigmas"] == [0.3, 0.2, 0.1] and info["keypoint_info"][0]["swap"] == "left_wing"
    assert info["skeleton_info"][0]["link"] == ("beak", "left_wing")
    assert "by name (spelling aside)" in made.notes[0]
    write_metainfo(like, build_metainfo("birds", ["left_wing", "beak", "tail"]))
    with pytest.raises(MmpxError, match="only in the annotation file: right_wing; only in birds.py: tail"):
        from_coco(named, like=str(like))


@needs_mmpose_files
def test_like_an_mmpose_dataset_by_name(shared_data):
    face = from_coco(_ann(shared_data, "300w"), like="300w")
    assert keypoint_names(face.info)[:2] == ["kpt-0", "kpt-1"] and not face.warnings
    assert sum(1 for kp in face.info["keypoint_info"].values() if kp["swap"]) == 58
    assert "300w.py has none" in face.notes[0]  # MMPose's 300W file has no sigmas: the defaults stay
    wholebody = from_coco(_ann(shared_data, "300w"), like="coco_wholebody_face")
    assert len(set(wholebody.info["sigmas"])) > 1
    animals = from_coco(_ann(shared_data, "ap10k"), like="ap10k")
    assert keypoint_names(animals.info)[0] == "left_eye" and len(animals.info["skeleton_info"]) == 17
    with pytest.raises(MmpxError, match="the annotation file has 68 keypoints") as info:
        from_coco(_ann(shared_data, "300w"), like="coco")
    assert "300w" in info.value.hint
    with pytest.raises(MmpxError, match="no dataset metainfo file nope.py") as info:
        from_coco(_ann(shared_data, "300w"), like="nope")
    assert "300w" in info.value.hint


def test_cli_from_coco_warns_and_notes(shared_data, tmp_path):
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    runner, app = CliRunner(), build_app(load_plugins())
    result = runner.invoke(app, ["metainfo", "from-coco", str(_ann(shared_data, "300w")), str(tmp_path / "f.py")])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stdout and "68 keypoints" in result.stdout
    assert "warning:" in result.stderr and "kpt_0..kpt_67" in result.stderr
    result = runner.invoke(app, ["metainfo", "from-coco", str(_ann(shared_data, "ap10k")), str(tmp_path / "a.py")])
    assert result.exit_code == 0 and "note: 54 categories share one keypoint list" in result.stderr
    helped = runner.invoke(app, ["metainfo", "from-coco", "--help"], env={"COLUMNS": "200"}).output
    assert "NAME|FILE" in helped and "MMPose dataset name" in helped
