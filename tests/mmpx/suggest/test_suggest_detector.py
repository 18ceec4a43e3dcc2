"""``mmpx suggest`` with a real mmdet detector config that finds nothing on some images: the
default ``--strategy diverse`` crashed (``all input arrays must have the same shape``), and the misses ranked
least uncertain. The torch-free tests of the same rules are in tests/mmpx/suggest/test_suggest_misses.py.

The detector is configs/carpose/rtmdet-tiny_carpose.py at 160x160 (its 640 takes seconds per image on a busy
CPU) with seeded random weights and its class layer scaled up: a textureless image gives the same features at
every position, so its best class score stays near 0.5, while the car images' vary and score higher (measured
below, before the command relies on it).
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.synth.carpose import synth_carpose
from mmpx.testing import run_cli
from tests.helpers import ROOT
from tests.onnx_model import write_tiny_onnx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

DET_CONFIG = ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose.py"
SIZE = 96
BBOX_THR = 0.6
SMALL_DET = """_base_ = [{base!r}]
test_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='Pad', size=(160, 160), pad_val=dict(img=(114, 114, 114))),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("pool") / "pool"
    synth_carpose(folder, 6, seed=3, size=SIZE, max_cars=1)
    for f in [*folder.glob("*.json"), folder / ".mmpx-synth"]:
        f.unlink()
    cv2.imwrite(str(folder / "blank.png"), np.full((SIZE, SIZE, 3), 127, np.uint8))
    return folder


@pytest.fixture(scope="module")
def detector(tmp_path_factory, pool) -> tuple[Path, Path]:
    """A detector config and checkpoint that find the cars (best score over BBOX_THR) and nothing on the blank."""
    import torch

    from mmpose_ext.infer.detector import MMDetDetector

    root = tmp_path_factory.mktemp("det")
    config = root / "det.py"
    config.write_text(SMALL_DET.format(base=str(DET_CONFIG)))
    torch.manual_seed(0)
    det = MMDetDetector(config, None, cat_ids=[0], bbox_thr=0.0)
    with torch.no_grad():
        for conv in det.model.bbox_head.rtm_cls:
            conv.weight.mul_(1000), conv.bias.zero_()
    best = {p.name: float(det(cv2.imread(str(p)))[1].max()) for p in sorted(pool.iterdir())}
    assert best.pop("blank.png") < BBOX_THR < min(best.values()), best  # the premise of the test
    checkpoint = root / "det.pth"
    torch.save({"state_dict": det.model.state_dict(), "meta": {"dataset_meta": {"classes": ("car",)}}}, checkpoint)
    return config, checkpoint


def test_default_strategy_with_a_detector_that_misses(pool, detector, tmp_path):
    model = write_tiny_onnx(tmp_path / "tiny.onnx", bias=2.0)
    config, checkpoint = detector
    result = run_cli("suggest", pool, "--out", tmp_path / "next", "--n", "3", "--model", model, "--backend",
                     "onnxruntime", "--det-config", config, "--det-weights", checkpoint, "--bbox-thr",
                     str(BBOX_THR), "--no-progress")
    assert result.exit_code == 0, result.stderr
    assert "unexpected" not in result.stderr and "1 candidate(s) had no box" in result.stderr
    ranking = json.loads((tmp_path / "next" / "suggest.json").read_text())
    assert ranking["strategy"] == "diverse" and ranking["without_instances"] == 1
    first = ranking["chosen"][0]  # the detector's miss, first: a person should look at it
    assert first["name"] == "blank.png" and first["instances"] == 0 and first["uncertainty"] == 1.0
    assert all(r["instances"] > 0 and r["uncertainty"] < 1 for r in ranking["chosen"][1:])
    assert "blank.png" in result.stdout and " - " in result.stdout  # the table shows no made-up signals
