"""MMPose's own datasets on NumPy 2: ``num_keypoints`` is a plain ``int`` in every COCO-style dataset that counts
it (MMPose's tests check it only for PanopticHand2D), and UBody3dDataset builds with the values MMPose meant.

The annotation files are MMPose v1.3.2's test data (tests/data/mmpose/, Apache-2.0); MMPose's own tests for these
classes are the ``test_mmpose_*_dataset.py`` modules beside this one.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (the fixes under test)
from mmpose_ext import compat
from mmpose_ext.compat import numpy2_num_keypoints, numpy2_ubody3d
from tests.helpers import make_tiny_coco

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

DATA = Path(__file__).resolve().parents[2] / "data" / "mmpose"
# class name -> (folder, annotation file): every class whose MMPose test data has no num_keypoints field
COUNTED = {
    "PanopticHand2DDataset": ("panoptic", "test_panoptic.json"),
    "JhmdbDataset": ("jhmdb", "test_jhmdb_sub1.json"),
    "OneHand10KDataset": ("onehand10k", "test_onehand10k.json"),
    "Rhd2DDataset": ("rhd", "test_rhd.json"),
    "FreiHandDataset": ("freihand", "test_freihand.json"),
}


def _build(name: str, **kwargs):
    from mmpose.registry import DATASETS

    folder, ann_file = COUNTED[name]
    cfg = dict(type=name, ann_file=ann_file, data_root=str(DATA / folder), pipeline=[], test_mode=False)
    return DATASETS.build({**cfg, **kwargs})


@pytest.mark.parametrize("name", sorted(COUNTED))
@pytest.mark.parametrize("mode", ["topdown", "bottomup"])
def test_num_keypoints_is_int(name, mode):
    dataset = _build(name, data_mode=mode)
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert infos
    for info in infos:
        value = info["num_keypoints"]
        values = value if mode == "bottomup" else [value]
        assert values and all(type(v) is int for v in values), (name, mode, value)
        assert all(v > 0 for v in values)
        json.dumps(values)  # what an np.int64 breaks


def test_own_coco_file_without_num_keypoints(tmp_path):
    """A user's COCO file without ``num_keypoints`` (the field is optional to MMPose) takes the counting path."""
    from mmpose.datasets import CocoDataset

    ann_file = make_tiny_coco(tmp_path, num_images=2)
    data = json.loads(ann_file.read_text())
    for ann in data["annotations"]:
        del ann["num_keypoints"]
    ann_file.write_text(json.dumps(data))
    dataset = CocoDataset(ann_file=str(ann_file), data_root="", pipeline=[], test_mode=False)
    assert [dataset.get_data_info(i)["num_keypoints"] for i in range(len(dataset))] == [17, 17]
    assert all(type(dataset.get_data_info(i)["num_keypoints"]) is int for i in range(len(dataset)))


def test_num_keypoints_values_unchanged():
    """The fix changes the type only: the counts are those MMPose computed."""
    dataset = _build("PanopticHand2DDataset", data_mode="topdown")
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        assert info["num_keypoints"] == np.count_nonzero(info["keypoints"].max(axis=2))


def test_ubody3d_builds_with_mmpose_values():
    from mmpose.datasets.datasets.wholebody3d import UBody3dDataset

    dataset = UBody3dDataset(ann_file="ubody3d_train.json", data_root=str(DATA / "ubody3d"), pipeline=[])
    info = dataset.get_data_info(0)
    assert info["num_keypoints"] == 133
    assert info["bbox_scores"].dtype == np.float32 and (info["bbox_scores"] == 1).all()
    assert (info["bbox_scales"] == 1).all() and info["keypoints"].shape[1:] == (133, 2)


def test_ubody3d_method_is_mmpose_source_less_one_line():
    """The replaced method is compiled from MMPose's installed file, with only the refused line changed."""
    from mmpose.datasets.datasets.wholebody3d import ubody3d_dataset

    method = ubody3d_dataset.UBody3dDataset._load_annotations
    assert method.__mmpx_numpy2__
    assert method.__code__.co_filename == ubody3d_dataset.__file__
    source = inspect.getsource(method)
    assert source.count(numpy2_ubody3d._LINE) == 1  # getsource reads the file: MMPose's line is still there
    first = method.__code__.co_firstlineno
    assert inspect.getsourcelines(method)[1] == first  # line numbers kept for tracebacks


@pytest.mark.parametrize("fix", [numpy2_num_keypoints, numpy2_ubody3d], ids=lambda m: m.FIX.name)
def test_fixes_needed_and_active_here(fix):
    """Both problems are real on the pinned NumPy (2.x); doctor lists each fix as active."""
    if not fix.FIX.needed():
        pytest.skip(f"{fix.FIX.name} is not needed with NumPy {np.__version__}")
    status = {s.name: s for s in compat.report()}[fix.FIX.name]
    assert status.needed and status.active and status.problem is None, status
    assert fix.FIX.apply() is True  # idempotent: a second import changes nothing
    assert "already" not in status.detail

