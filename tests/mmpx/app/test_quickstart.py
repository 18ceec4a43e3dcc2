"""`mmpx quickstart`: every stage for real on a small synthetic set (1 epoch); the accuracy target itself is
shown by benchmarks/quickstart.py (5 minutes of training do not belong in the suite)."""

from __future__ import annotations

import json

import cv2
import pytest

from mmpx.app.quickstart import MARKER, _prepare_work_dir
from mmpx.errors import MmpxError
from tests.helpers import mmpx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


@pytest.mark.slow
def test_quickstart_runs_every_stage(tmp_path):
    work = tmp_path / "qs"
    env = {"OMP_NUM_THREADS": "1", "COLUMNS": "250"}  # wide enough that the report's paths print whole
    res = mmpx("quickstart", "--work-dir", str(work), "--images", "40", "--epochs", "1", env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((work / MARKER).read_text())
    assert report["data"]["images"] == 40
    assert report["data"]["train"]["instances"] + report["data"]["val"]["instances"] == 40  # one car per image
    assert set(report["seconds"]) >= {"synth", "convert", "check", "train", "test", "draw", "total"}
    training = report["training"]  # 1 epoch of 32 train images at batch 32, and its speed
    assert training["iterations"] == 1 and 0 < training["seconds_per_iter"] < report["seconds"]["train"]
    assert "s/iter" in res.stdout
    metrics = json.loads((work / "metrics.json").read_text())
    assert 0.0 <= metrics["PCK"] <= 1.0 and "coco/AP" in metrics
    assert metrics == report["metrics"]
    for key in ("checkpoint", "config", "loss_plot", "val_plot", "contact_sheet", "report"):
        assert (work / report["paths"][key]).is_file(), key
    import torch

    from mmpose_ext.compat.checkpoint import load

    conv = load(report["paths"]["checkpoint"], map_location="cpu")["state_dict"]["backbone.conv1.weight"]
    assert conv.is_contiguous(memory_format=torch.channels_last)  # ChannelsLastHook trained it
    drawn = sorted((work / "predictions").glob("*.jpg"))
    assert len(drawn) == 9  # 8 validation images and the contact sheet
    assert cv2.imread(str(work / "predictions" / "contact_sheet.jpg")).shape[:2] == (512, 1024)  # 2 rows of 4
    assert "PCK@0.05 (bbox)" in res.stdout and str(work / "metrics.json") in res.stdout.replace("\n", "")


def test_work_dir_of_an_earlier_quickstart_is_replaced(tmp_path):
    work = tmp_path / "qs"
    work.mkdir()
    (work / MARKER).write_text("{}")
    (work / "old.txt").write_text("from an earlier run")
    _prepare_work_dir(work)
    assert sorted(p.name for p in work.iterdir()) == [MARKER]


def test_foreign_work_dir_is_refused_and_left_alone(tmp_path):
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(MmpxError, match="not an earlier quickstart"):
        _prepare_work_dir(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "precious"
    res = mmpx("quickstart", "--work-dir", str(tmp_path))
    assert res.returncode == 1 and "not an earlier quickstart" in res.stderr and "Traceback" not in res.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]


def test_bad_options_are_refused(tmp_path):
    res = mmpx("quickstart", "--work-dir", str(tmp_path / "x"), "--images", "3")
    assert res.returncode == 2 and "--images" in res.stderr
    assert not (tmp_path / "x").exists()
