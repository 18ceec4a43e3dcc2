"""Metainfo tooling: loading MMPose's own files, validation rules, generation from COCO, and the CLI."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmpx.errors import MmpxError
from mmpx.metainfo import (
    build_metainfo,
    keypoint_names,
    load_metainfo,
    metainfo_from_coco,
    validate_metainfo,
    write_metainfo,
)

_MMPOSE = importlib.util.find_spec("mmpose")  # its metainfo files are read, never imported; absent in the core venv
MMPOSE_DATASETS = Path(_MMPOSE.origin).parent / ".mim/configs/_base_/datasets" if _MMPOSE else None
MMPOSE_FILES = sorted(MMPOSE_DATASETS.glob("*.py")) if _MMPOSE else []
# genuine issues in MMPose 1.3.2's own files, reported as warnings (see docs/guides/check.md)
KNOWN_WARNINGS = {
    "deepfashion2.py": {"swap-asymmetric", "sigmas"},
    "coco_aic.py": {"joint_weights"},
    "humanart_aic.py": {"joint_weights"},
    "coco_wholebody_face.py": {"kpt-id"},
    "coco_wholebody_openpose.py": {"kpt-id"},
    "deepfashion_full.py": {"kpt-id", "sigmas"},
}


def codes(problems, severity=None) -> set[str]:
    return {p.code for p in problems if severity is None or p.severity == severity}


@pytest.mark.parametrize("path", MMPOSE_FILES, ids=lambda p: p.name)
def test_every_mmpose_metainfo_loads_and_has_no_errors(path):
    info = load_metainfo(path)
    problems = validate_metainfo(info, path)
    assert not codes(problems, "error"), [p.where + ": " + p.message for p in problems]
    expected = KNOWN_WARNINGS.get(path.name, {"sigmas"} if not info["sigmas"] else set())
    assert codes(problems) == expected
    assert len(keypoint_names(info)) == len(info["keypoint_info"])


@pytest.mark.stack
def test_mmpose_files_are_all_there():
    assert len(MMPOSE_FILES) > 50


def test_load_evaluates_only_data(tmp_path):
    good = tmp_path / "good.py"
    good.write_text("c = dict(a=[1, 2, 3])\ndataset_info = dict(w=[1.0] * 3 + [2.0], col=c['a'], n=-1)\n")
    assert load_metainfo(good) == {"w": [1.0, 1.0, 1.0, 2.0], "col": [1, 2, 3], "n": -1}
    for body in ("__import__('os').system('true')", "[0] * 10**9", "open('x')"):
        bad = tmp_path / "bad.py"
        bad.write_text(f"dataset_info = dict(x={body})\n")
        with pytest.raises(MmpxError, match="bad.py:1"):
            load_metainfo(bad)


@pytest.fixture
def info() -> dict:
    return build_metainfo("cars", ["nose", "left_eye", "right_eye", "tail"],
                          [("nose", "left_eye"), ("nose", "right_eye")])


def test_built_metainfo_is_clean(info):
    assert validate_metainfo(info) == []


def _broken(info, edit):
    info = copy.deepcopy(info)
    edit(info)
    return validate_metainfo(info, "meta.py")


@pytest.mark.parametrize("edit, severity, code, where", [
    (lambda i: i.pop("sigmas"), "error", "missing-key", "meta.py:sigmas"),
    (lambda i: i["keypoint_info"].update({5: i["keypoint_info"].pop(3)}), "error", "kpt-ids",
     "keypoint_info"),
    (lambda i: i["keypoint_info"][2].update(id=7), "warning", "kpt-id", "keypoint_info[2].id"),
    (lambda i: i["keypoint_info"][3].update(name="nose"), "error", "kpt-dup", "keypoint_info[3].name"),
    (lambda i: i["keypoint_info"][0].update(swap="beak"), "error", "swap-unknown", "keypoint_info[0].swap"),
    (lambda i: i["keypoint_info"][0].update(swap="nose"), "warning", "swap-self", "keypoint_info[0].swap"),
    (lambda i: i["keypoint_info"][2].update(swap=""), "warning", "swap-asymmetric", "keypoint_info[1].swap"),
    (lambda i: i["keypoint_info"][2].update(swap="tail"), "error", "swap-asymmetric",
     "keypoint_info[1].swap"),
    (lambda i: i["skeleton_info"][1].update(link=("nose", "beak")), "error", "link", "skeleton_info[1].link"),
    (lambda i: i["skeleton_info"][0].update(link=("nose",)), "error", "link", "skeleton_info[0].link"),
    (lambda i: i["sigmas"].pop(), "error", "sigmas", "meta.py:sigmas"),
    (lambda i: i["sigmas"].__setitem__(2, -0.1), "error", "sigmas", "sigmas[2]"),
    (lambda i: i["joint_weights"].append(1.0), "warning", "joint_weights", "meta.py:joint_weights"),
    (lambda i: i["keypoint_info"][1].update(color=[0, 256, 0]), "error", "color", "keypoint_info[1].color"),
    (lambda i: i["skeleton_info"][0].update(color=[0, 0]), "error", "color", "skeleton_info[0].color"),
])
def test_each_rule_names_the_field(info, edit, severity, code, where):
    problems = _broken(info, edit)
    hits = [p for p in problems if p.code == code]
    assert hits, problems
    assert hits[0].severity == severity
    assert hits[0].where.endswith(where) and hits[0].where.startswith("meta.py")
    assert hits[0].message and hits[0].hint is not None


@pytest.mark.stack
def test_from_coco_real_file(shared_data, tmp_path):
    info = metainfo_from_coco(shared_data / "mmpose-testdata/coco/test_coco.json", dataset_name="coco_test")
    coco = load_metainfo(MMPOSE_DATASETS / "coco.py")
    assert keypoint_names(info) == keypoint_names(coco)
    assert validate_metainfo(info) == []
    swaps = {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values()}
    assert swaps == {kp["name"]: kp["swap"] for kp in coco["keypoint_info"].values()}
    links = {frozenset(sk["link"]) for sk in info["skeleton_info"].values()}
    assert links == {frozenset(sk["link"]) for sk in coco["skeleton_info"].values()}


def _coco(tmp_path, cats) -> Path:
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(dict(images=[], annotations=[], categories=cats)))
    return path


def test_from_coco_skeleton_bases_and_categories(tmp_path):
    one_based = _coco(tmp_path, [dict(id=3, name="car", keypoints=["l_light", "r_light", "roof"],
                                      skeleton=[[1, 3], [2, 3]])])
    info = metainfo_from_coco(one_based)
    assert [sk["link"] for sk in info["skeleton_info"].values()] == [("l_light", "roof"), ("r_light", "roof")]
    assert info["keypoint_info"][0]["swap"] == "r_light" and info["dataset_name"] == "ann"
    zero_based = _coco(tmp_path, [dict(id=1, name="car", keypoints=["a", "b"], skeleton=[[0, 1]])])
    assert metainfo_from_coco(zero_based)["skeleton_info"][0]["link"] == ("a", "b")
    two = _coco(tmp_path, [dict(id=1, name="a", keypoints=["x"]), dict(id=2, name="b", keypoints=["y", "z"])])
    with pytest.raises(MmpxError, match="2 categories have keypoints"):
        metainfo_from_coco(two)
    assert keypoint_names(metainfo_from_coco(two, category_id=2)) == ["y", "z"]
    bad = _coco(tmp_path, [dict(id=1, name="car", keypoints=["a", "b"], skeleton=[[1, 5]])])
    with pytest.raises(MmpxError, match="out of range"):
        metainfo_from_coco(bad)


@pytest.mark.stack
def test_generated_file_loads_in_mmpose(tiny_coco, tmp_path):
    import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose is imported)

    parse_pose_metainfo = importlib.import_module("mmpose.datasets.datasets.utils").parse_pose_metainfo

    out = tmp_path / "meta.py"
    write_metainfo(out, metainfo_from_coco(tiny_coco / "annotations.json"))
    parsed = parse_pose_metainfo(dict(from_file=str(out)))
    assert parsed["num_keypoints"] == 17 and len(parsed["sigmas"]) == 17


def _app():
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return build_app(load_plugins())


def test_cli_from_coco_and_check(tiny_coco, tmp_path):
    runner, app, out = CliRunner(), _app(), tmp_path / "meta.py"
    result = runner.invoke(app, ["metainfo", "from-coco", str(tiny_coco / "annotations.json"), str(out),
                                 "--name", "tiny"])
    assert result.exit_code == 0, result.output
    assert "17 keypoints" in result.output and load_metainfo(out)["dataset_name"] == "tiny"
    again = runner.invoke(app, ["metainfo", "from-coco", str(tiny_coco / "annotations.json"), str(out)])
    assert again.exit_code == 1 and "--force" in str(again.exception.hint)
    result = runner.invoke(app, ["metainfo", "check", str(out), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["errors"] == 0
    out.write_text(out.read_text().replace("'swap': ''", "'swap': 'k99'", 1))
    result = runner.invoke(app, ["metainfo", "check", str(out)])
    assert result.exit_code == 1 and "k99" in result.output
