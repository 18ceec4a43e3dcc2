"""`mmpx train --vis tensorboard`: the scalars go to TensorBoard too, read back here with
TensorBoard's own reader; the local scalars.json stays; a backend whose package is missing is refused at once."""

from __future__ import annotations

import importlib.util

import pytest

import mmpose_ext  # noqa: F401  (registers the hooks)
from mmpose_ext.apis.prepare import train_config
from mmpx.errors import ConfigError
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack


@pytest.mark.slow
def test_tensorboard_gets_the_loss_and_the_validation_metric(tmp_path, tiny_coco):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=2)
    work = tmp_path / "w"
    result = mmpx("train", str(config), "--work-dir", str(work), "--vis", "tensorboard",
                  env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    events = list(work.glob("2*/vis_data/events.out.tfevents.*"))
    assert len(events) == 1, sorted(p.name for p in work.rglob("*"))
    acc = EventAccumulator(str(events[0].parent))
    acc.Reload()
    tags = acc.Tags()["scalars"]
    assert "loss" in tags and "coco/AP" in tags, tags
    assert [e.step for e in acc.Scalars("coco/AP")] == [1, 2]  # one value per validation (epoch)
    assert len(acc.Scalars("loss")) >= 2
    assert list(work.glob("2*/vis_data/scalars.json"))  # the local backend stays (mmpx plot reads it)
    assert (work / "loss.png").is_file()


def test_vis_backends_are_added_once_and_missing_packages_named(tmp_path, tiny_coco):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    cfg = train_config(config, vis=["tensorboard", "tensorboard"], progress=False)
    types = [b["type"] for b in cfg.visualizer.vis_backends]
    assert types.count("TensorboardVisBackend") == 1 and types[0] == "LocalVisBackend"
    with pytest.raises(ConfigError, match=r"--vis neptune: not a visualisation backend"):
        train_config(config, vis=["neptune"], progress=False)
    missing = next((n for n in ("wandb", "mlflow") if importlib.util.find_spec(n) is None), None)
    if missing is not None:
        with pytest.raises(ConfigError, match=rf"--vis {missing}: the package '{missing}' is not installed"):
            train_config(config, vis=[missing], progress=False)
