"""``mmpx configs new`` end to end: from a raw annotation file to a config that MMPose builds, that passes
preflight, and that trains for two iterations and tests, for an insect, a hand and a face; a config that fails
preflight is never written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import mmpx

pytestmark = pytest.mark.stack

# two epochs of one step each (the batch is capped by the instances), no worker processes on a shared machine
QUICK = ["train_cfg.max_epochs=2", "train_cfg.val_interval=1", "default_hooks.checkpoint.interval=1"] + [
    f"{loader}.{key}" for loader in ("train_dataloader", "val_dataloader", "test_dataloader")
    for key in ("num_workers=0", "persistent_workers=False")]


def _options(items: list[str]) -> list[str]:
    return [arg for item in items for arg in ("--cfg-options", item)]


def _new_and_train(tmp_path: Path, ann: Path, meta: str, model: str, extra: tuple[str, ...] = (),
                   metric: str = "coco/AP") -> Path:
    config = tmp_path / "config.py"
    made = mmpx("configs", "new", "--data", str(ann), "--metainfo", meta, "--model", model, "--out", str(config),
                *extra)
    assert made.returncode == 0, made.stderr
    assert "preflight passed" in made.stdout and config.is_file()
    work = tmp_path / "work"
    trained = mmpx("train", str(config), "--work-dir", str(work), "--device", "cpu", *_options(QUICK))
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "2 iteration(s)" in trained.stdout + trained.stderr
    tested = mmpx("test", str(config), str(work / "epoch_2.pth"), "--work-dir", str(tmp_path / "test"),
                  "--device", "cpu", *_options(QUICK[3:]))
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert metric in tested.stdout
    return config


def test_locust_gets_its_boxes_shape(shared_data, tmp_path):
    """The default input follows the boxes (locusts are long: 256x160). Training a generated locust config is
    tests/mmpx/cli/test_every_set.py's (with the other eight sets)."""
    ann = shared_data / "mmpose-testdata" / "locust" / "test_locust.json"
    meta = tmp_path / "locust.py"
    made = mmpx("metainfo", "from-coco", str(ann), str(meta))
    assert made.returncode == 0, made.stderr
    config = tmp_path / "config.py"
    made = mmpx("configs", "new", "--data", str(ann), "--metainfo", str(meta), "--model", "rtmpose-t", "--out",
                str(config))
    assert made.returncode == 0 and "preflight passed" in made.stdout, made.stderr
    assert "input_size=(256, 160)" in config.read_text()


@pytest.mark.slow
def test_hand_heatmap_trains_with_flip(shared_data, tmp_path):
    """OneHand10K names no sides: --flip yes (a mirrored hand is a hand) keeps every keypoint its own partner."""
    ann = shared_data / "mmpose-testdata" / "onehand10k" / "test_onehand10k.json"
    meta = tmp_path / "hand.py"
    assert mmpx("metainfo", "from-coco", str(ann), str(meta)).returncode == 0
    config = _new_and_train(tmp_path, ann, str(meta), "heatmap-resnet50", ("--flip", "yes", "--input-size", "128x128"))
    assert "RandomFlip" in config.read_text()


@pytest.mark.slow
def test_face_with_mmpose_metainfo_trains(shared_data, tmp_path):
    """300W's file names no keypoints; MMPose's own 300W metainfo gives names and 29 swaps but no sigmas, so the
    config scores by PCK (COCO AP would fail at the first validation)."""
    ann = shared_data / "mmpose-testdata" / "300w" / "test_300w.json"
    config = _new_and_train(tmp_path, ann, "mmpose::_base_/datasets/300w.py", "rtmpose-s", metric="PCK")
    text = config.read_text()
    assert "metainfo = dict(from_file='configs/_base_/datasets/300w.py')" in text
    assert "PCKAccuracy" in text and "CocoMetric" not in text


def test_config_failing_preflight_is_not_written(shared_data, tmp_path):
    """An annotation naming an image the file lacks passes the planning but not preflight's data check."""
    src = shared_data / "mmpose-testdata" / "locust"
    data = json.loads((src / "test_locust.json").read_text())
    data["annotations"][1]["image_id"] = 999_999
    ann = tmp_path / "locust.json"
    ann.write_text(json.dumps(data))
    meta = tmp_path / "locust_meta.py"
    assert mmpx("metainfo", "from-coco", str(ann), str(meta)).returncode == 0
    config = tmp_path / "config.py"
    made = mmpx("configs", "new", "--data", str(ann), "--metainfo", str(meta), "--images", str(src),
                "--out", str(config))
    assert made.returncode == 1
    assert "Traceback" not in made.stderr and "error:" in made.stderr
    assert not config.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["locust.json", "locust_meta.py"]
