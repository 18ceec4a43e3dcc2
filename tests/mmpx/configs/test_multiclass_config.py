"""``mmpx configs new`` for a dataset of several classes: the plan and the text (torch-free), then the
config built, trained two iterations by ``mmpx train`` and scored per class by ``mmpx test``; and once by MMPose's
own tools/train.py (custom_imports registers the classes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mmpx.configs.new import box_stats, plan_config
from mmpx.configs.new_text import render
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_classes, load_metainfo
from tests.helpers import mmpx
from tests.mmpx.configs.multiclass_data import make_dataset
from tests.mmpx.configs.test_new import _said, _values

QUICK = ["train_cfg.max_epochs=2", "train_cfg.val_interval=2", "default_hooks.checkpoint.interval=1"] + [
    f"{loader}.{key}" for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    for key in ("num_workers=0", "persistent_workers=False")]


def _options(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--cfg-options", item)]


@pytest.fixture
def street(tmp_path) -> Path:
    return make_dataset(tmp_path / "data")


@pytest.mark.parametrize("model", ["rtmpose-t", "heatmap-resnet50"])
def test_plan_and_text_for_two_classes(street, model):
    plan = plan_config(street, model)
    text = render(plan, "mmpx configs new (test)")
    compile(text, "config.py", "exec")
    assert [c.name for c in plan.classes] == ["car", "bicycle"] and len(plan.names) == 8
    assert plan.flip_indices == [1, 0, 3, 2, 4, 5, 7, 6] and plan.flip  # the union's swaps, within each class
    assert plan.stats.instances == 6  # 3 train images, a car and a bicycle each
    values = _values(text)
    assert values["dataset_type"] == "MultiClassCocoDataset"
    assert values["val_evaluator"] == [dict(type="MultiClassCocoMetric"),
                                       dict(type="MultiClassPCKAccuracy", thr=0.05)]
    assert values["default_hooks"]["checkpoint"]["save_best"] == "coco/AP"
    assert values["custom_imports"] == dict(imports=["mmpose_ext"], allow_failed_imports=False)
    assert "out_channels=8,  # the union of the classes' keypoints" in text
    assert "use_target_weight=True" in text
    said = _said(text)
    assert "car (category_id 1: keypoints 0-3), bicycle (category_id 2: keypoints 4-7)" in said
    assert "each class on its own keypoints with its own sigmas" in said


def test_one_class_text_unchanged(tmp_path):
    """A one-class dataset keeps CocoDataset and CocoMetric (no classes in the plan)."""
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    synth_carpose(tmp_path / "labelme", 6, seed=1)
    convert_labelme(tmp_path / "labelme", tmp_path / "cars", val_ratio=0.3, seed=0)
    plan = plan_config(tmp_path / "cars", "rtmpose-t")
    values = _values(render(plan, "test"))
    assert plan.classes is None and values["dataset_type"] == "CocoDataset"
    assert values["val_evaluator"] == dict(type="CocoMetric")


def test_annotations_checked_against_their_class(street, tmp_path):
    classes = keypoint_classes(load_metainfo(street / "metainfo.py"))
    train = street / "annotations" / "train.json"
    assert box_stats(train, classes).instances == 6
    doc = json.loads(train.read_text())
    doc["annotations"][1]["keypoints"] = doc["annotations"][1]["keypoints"][:9]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(MmpxError, match=r"annotations\[1\].keypoints has 3 keypoints, its class 'bicycle' 4"):
        box_stats(bad, classes)
    doc["annotations"][1]["category_id"] = 9
    bad.write_text(json.dumps(doc))
    with pytest.raises(MmpxError, match=r"annotations\[1\] has category_id 9, not a class of the metainfo "
                                        r"\(car=1, bicycle=2\)"):
        box_stats(bad, classes)


@pytest.mark.stack
@pytest.mark.slow
def test_new_train_and_test_per_class(street, tmp_path):
    config = tmp_path / "config.py"
    made = mmpx("configs", "new", "--data", str(street), "--model", "rtmpose-t", "--input-size", "128x96",
                "--out", str(config))
    assert made.returncode == 0, made.stderr
    assert "preflight passed" in made.stdout
    work = tmp_path / "work"
    trained = mmpx("train", str(config), "--work-dir", str(work), "--device", "cpu", *_options(QUICK))
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "2 iteration(s)" in trained.stdout + trained.stderr
    tested = mmpx("test", str(config), str(work / "epoch_2.pth"), "--work-dir", str(tmp_path / "test"),
                  "--device", "cpu", *_options(QUICK[3:]))
    assert tested.returncode == 0, tested.stderr[-3000:]
    for key in ("coco/car/AP", "coco/bicycle/AP", "coco/AP", "car/PCK", "bicycle/PCK"):
        assert key in tested.stdout, tested.stdout[-2000:]


@pytest.mark.stack
@pytest.mark.slow
def test_mmpose_tools_train_runs_the_config(street, tmp_path):
    """MMPose's own tools/train.py: custom_imports registers the dataset and the metric."""
    from mmpx.testing import mmpose_tool

    config = tmp_path / "config.py"
    config.write_text(render(plan_config(street, "rtmpose-t", input_size="128x96"), "test"))
    result = subprocess.run([sys.executable, str(mmpose_tool("train.py")), str(config), "--work-dir",
                             str(tmp_path / "tools"), "--cfg-options", *[q.replace("max_epochs=2", "max_epochs=1")
                                                                         for q in QUICK]],
                            capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tmp_path / "tools" / "epoch_1.pth").is_file()
    assert "coco/car/AP" in result.stdout + result.stderr
