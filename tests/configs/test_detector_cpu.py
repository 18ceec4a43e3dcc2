"""A car detector config that trains on a CPU.

Before: the only shipped detector, rtmdet-tiny_carpose (RTMDet's COCO recipe: 640x640, cached mosaic and MixUp,
batch 32, a 1000-iteration warm-up, 300 epochs), took 80 s per iteration on 2 cores, an ETA of 3 hours for the
quickstart's cars. rtmdet-tiny_carpose-cpu is the same network at 320x320 without mosaic or MixUp; its speed
against the 640 config is measured by benchmarks/detector_cpu.py, not here.
"""

from __future__ import annotations

import pytest

from mmpose_ext.config import load_config
from mmpx.testing import carpose_data, run_cli

pytestmark = pytest.mark.stack
NAME = "rtmdet-tiny_carpose-cpu"


def test_cpu_detector_config_is_light():
    cfg = load_config(NAME)
    steps = [step["type"] for step in cfg.train_dataloader.dataset.pipeline]
    assert not [s for s in steps if "Mosaic" in s or "MixUp" in s], steps
    assert all(step.get("size", (320, 320)) == (320, 320) for step in cfg.train_pipeline if step["type"] == "Pad")
    assert [step["scale"] for step in cfg.test_pipeline if step["type"] == "Resize"] == [(320, 320)]
    assert [step["scale"] for step in cfg.val_dataloader.dataset.pipeline if step["type"] == "Resize"] == [(320, 320)]
    assert "PipelineSwitchHook" not in [hook["type"] for hook in cfg.custom_hooks]  # nothing to switch off
    assert cfg.train_cfg.max_epochs <= 30 and not cfg.train_cfg.get("dynamic_intervals")
    warmup = cfg.param_scheduler[0]
    assert warmup["type"] == "LinearLR" and warmup["end"] <= 100
    assert cfg.train_dataloader.num_workers <= 2 and cfg.train_dataloader.batch_size <= 16
    assert cfg.model.backbone.init_cfg is None and not cfg.get("load_from")


@pytest.mark.slow
def test_cpu_detector_trains_by_name_from_another_folder(tmp_path):
    (tmp_path / "data").mkdir()
    carpose_data(tmp_path / "made", n=8, size=128).rename(tmp_path / "data" / "carpose")  # where the config looks
    two_iterations = ["train_dataloader.dataset.indices=4", "train_dataloader.batch_size=2",
                      "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                      "train_cfg.max_epochs=1"]
    trained = run_cli("train", NAME, "--work-dir", "run", "--no-validate", "--no-progress", "--cfg-options",
                      *two_iterations, cwd=tmp_path, env={"OMP_NUM_THREADS": "1"})
    assert trained.exit_code == 0, trained.stderr[-3000:]
    assert (tmp_path / "run" / "epoch_1.pth").is_file()
