"""Keypoint mapping between two metainfo files by name (mmpx.metainfo.mapping), torch-free."""

from __future__ import annotations

import doctest
import importlib.util
import json

import pytest

import mmpx.metainfo.mapping
from mmpx.errors import ConfigError
from mmpx.metainfo import build_metainfo, write_metainfo
from mmpx.metainfo.mapping import map_keypoints, metainfo_indices, read_metainfo, resolve_metainfo_path

COCO = ["nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder", "left_elbow",
        "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee",
        "left_ankle", "right_ankle"]
HAS_MMPOSE = importlib.util.find_spec("mmpose") is not None  # only its metainfo files are read


@pytest.fixture
def coco():
    return build_metainfo("coco_like", COCO, skeleton=[("left_hip", "left_knee"), ("left_knee", "left_ankle")])


def test_docstring_examples():
    assert doctest.testmod(mmpx.metainfo.mapping).failed == 0


def test_exact_normalized_and_alias_matches(coco, tmp_path):
    target = build_metainfo("legs", ["Right-Knee", "LEFT KNEE", "left_hip", "Right.Hip", "ankle_l", "toe"],
                            swaps={"Right-Knee": "LEFT KNEE", "left_hip": "Right.Hip"})
    write_metainfo(tmp_path / "legs.py", target)
    m = map_keypoints(coco, dict(from_file=str(tmp_path / "legs.py")), aliases=dict(left_ankle="ankle_l"))
    assert m.pairs == [(14, 0), (13, 1), (11, 2), (12, 3), (15, 4)]
    assert m.how == ["normalized", "normalized", "exact", "normalized", "alias"]
    assert m.kept == [("right_knee", "Right-Knee"), ("left_knee", "LEFT KNEE"), ("left_hip", "left_hip"),
                      ("right_hip", "Right.Hip"), ("left_ankle", "ankle_l")]
    assert m.missing == ["toe"]
    assert m.dropped == [n for n in COCO if n not in ("left_hip", "right_hip", "left_knee", "right_knee",
                                                      "left_ankle")]
    line = m.report()
    assert "\n" not in line
    assert line.startswith("coco_like -> legs.py: kept 5 of 6: ")
    assert "kept 5 of 6: right_knee->Right-Knee, left_knee->LEFT KNEE, left_hip, right_hip->Right.Hip" in line
    assert "dropped from source (12): nose, left_eye," in line
    assert line.endswith("missing in target, left invisible (1): toe")
    # the target's flip indices, as MMPose derives them from its swaps
    assert m.target_info["flip_indices"] == [1, 0, 3, 2, 4, 5]


def test_each_keypoint_used_once_and_ambiguous_names_are_not_guessed(coco):
    target = build_metainfo("t", ["nose", "Left_Eye", "left-eye"], swaps={})
    m = map_keypoints(coco, target)
    assert m.pairs == [(0, 0)]  # 'Left_Eye' and 'left-eye' both normalise to 'lefteye': neither is guessed
    assert m.missing == ["Left_Eye", "left-eye"]
    m = map_keypoints(coco, target, aliases=dict(left_eye="left-eye"))
    assert m.pairs == [(0, 0), (1, 2)] and m.missing == ["Left_Eye"]


def test_no_common_keypoint_is_an_error_listing_both_name_sets(coco):
    car = build_metainfo("car", ["left_front_tire", "right_front_tire"])
    with pytest.raises(ConfigError) as err:
        map_keypoints(coco, car)
    message = str(err.value)
    assert "nose, left_eye" in message and "left_front_tire, right_front_tire" in message
    assert "aliases=" in (err.value.hint or "")


@pytest.mark.parametrize("aliases, bad", [(dict(nose="snout"), "snout"), (dict(beak="nose"), "beak"),
                                          (dict(nose="a", left_eye="a"), "two keypoints")])
def test_bad_aliases(coco, aliases, bad):
    target = build_metainfo("t", ["a", "nose"])
    with pytest.raises(ConfigError, match=bad):
        map_keypoints(coco, target, aliases=aliases)


def test_read_errors(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_metainfo(str(tmp_path / "nowhere_at_all_xyz.py"))
    bad = build_metainfo("bad", ["a", "b"])
    bad["keypoint_info"][0]["swap"] = "c"
    with pytest.raises(ConfigError, match="error"):
        read_metainfo(bad)
    with pytest.raises(ConfigError, match="path"):
        read_metainfo(3)


def test_metainfo_indices_like_mmpose():
    info = build_metainfo("t", ["left_a", "right_a", "mid"], skeleton=[("left_a", "mid"), ("mid", "right_a")])
    info["keypoint_info"][2]["type"] = "upper"
    parsed = metainfo_indices(info)
    assert parsed["flip_indices"] == [1, 0, 2]
    assert parsed["flip_pairs"] == [(1, 0), (0, 1)]  # MMPose lists each pair both ways
    assert parsed["upper_body_ids"] == [2] and parsed["lower_body_ids"] == []
    assert parsed["skeleton_links"] == [(0, 2), (2, 1)]


@pytest.mark.skipif(not HAS_MMPOSE, reason="MMPose's metainfo files are absent from the core venv")
def test_mmpose_files_are_found_as_mmpose_finds_them():
    path = resolve_metainfo_path("mmpose::_base_/datasets/coco.py")
    assert path.name == "coco.py" and path.is_file()
    assert resolve_metainfo_path("configs/_base_/datasets/coco.py") == path  # MMPose's own fallback
    m = map_keypoints("mmpose::_base_/datasets/coco.py", dict(from_file="configs/_base_/datasets/coco.py"))
    assert m.pairs == [(i, i) for i in range(17)] and not m.dropped and not m.missing
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_metainfo_path("mmpose::_base_/datasets/no_such_file.py")


def test_cli_map_prints_the_report_and_the_converter_mapping(coco, tmp_path):
    from typer.testing import CliRunner

    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    write_metainfo(tmp_path / "coco_like.py", coco)
    write_metainfo(tmp_path / "head.py", build_metainfo("head", ["right_eye", "left_eye", "top", "chin"]))
    runner, app = CliRunner(), build_app(load_plugins())
    args = ["metainfo", "map", str(tmp_path / "coco_like.py"), str(tmp_path / "head.py"), "--alias", "nose=top"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("coco_like.py -> head.py: kept 3 of 4: right_eye, left_eye, nose->top;")
    assert lines[1] == "KeypointConverter(num_keypoints=4, mapping=[(2, 0), (1, 1), (0, 2)])"
    assert "dict(type='KeypointMapping'" in lines[2] and "aliases={'nose': 'top'}" in lines[2]
    result = runner.invoke(app, [*args, "--json"])
    data = json.loads(result.output)
    assert data["pairs"] == [[2, 0], [1, 1], [0, 2]] and data["missing"] == ["chin"]
    assert data["how"] == ["exact", "exact", "alias"]
    bad = runner.invoke(app, [*args[:4], "--alias", "nose"])
    assert bad.exit_code == 1 and "SOURCE_NAME=TARGET_NAME" in str(bad.exception)


@pytest.mark.parametrize("kind", ["missing", "folder", "empty", "truncated", "not_utf8", "not_a_metainfo"])
def test_cli_map_broken_metainfo_is_one_clear_error(coco, tmp_path, capsys, kind):
    from mmpx.cli.main import main

    good = tmp_path / "coco_like.py"
    write_metainfo(good, coco)
    bad = tmp_path / "bad.py"
    if kind == "folder":
        bad.mkdir()
    elif kind != "missing":
        bad.write_bytes({"empty": b"", "truncated": good.read_bytes()[:400], "not_utf8": b"\xff\xfe\x00 x",
                         "not_a_metainfo": b"dataset_info = dict(keypoint_info=[1, 2])\n"}[kind])
    for argv in (["metainfo", "map", str(bad), str(good)], ["metainfo", "map", str(good), str(bad)]):
        with pytest.raises(SystemExit) as done:
            main(argv)
        err = capsys.readouterr().err
        assert done.value.code == 1 and "Traceback" not in err, err
        errors = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "bad.py" in errors[0], err
