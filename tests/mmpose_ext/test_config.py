"""--cfg-options mistakes are one clear line each: an empty value, a word where the config has
a number, unbalanced brackets, and a training length that would train nothing."""

from __future__ import annotations

import pytest

import mmpose_ext  # noqa: F401
from mmpose_ext.apis.prepare import train_config
from mmpose_ext.config import load_config
from mmpx.errors import ConfigError
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


@pytest.mark.parametrize("option, message", [
    ("train_cfg.max_epochs=", "has no value"),
    ("train_cfg.max_epochs=abc", "train_cfg.max_epochs is a number in"),
    ("model.test_cfg.flip_test=maybe", "is true or false in"),
    ("model.backbone.out_indices=[1,", "unbalanced brackets"),
])
def test_bad_overrides(tmp_path, tiny_coco, option, message):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_config(config, [option])


def test_good_overrides_still_apply(tmp_path, tiny_coco):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    cfg = load_config(config, ["train_cfg.max_epochs=3", "model.test_cfg.flip_test=True", "load_from=None",
                               "train_dataloader.batch_size=2", "model.backbone.out_indices=[1]"])
    assert cfg.train_cfg.max_epochs == 3 and cfg.model.test_cfg.flip_test is True and cfg.load_from is None
    assert cfg.model.backbone.out_indices == [1]


@pytest.mark.parametrize("value", ["-1", "0"])
def test_training_length_below_one_is_refused(tmp_path, tiny_coco, value):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    with pytest.raises(ConfigError, match="nothing would be trained"):
        train_config(config, cfg_options=[f"train_cfg.max_epochs={value}"], work_dir=tmp_path / "w")


def test_cli_line(tmp_path, tiny_coco):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    result = mmpx("train", str(config), "--cfg-options", "train_cfg.max_epochs=abc")
    assert result.returncode == 1 and "error: --cfg-options train_cfg.max_epochs=abc" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dict_values_are_read_as_literals(tmp_path, tiny_coco):
    """MMPose's tutorials write evaluators and init_cfg as dict(...); mmengine's parser recursed without end."""
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    cfg = load_config(config, ["test_evaluator=[dict(type='PCKAccuracy', norm_item='bbox', thr=0.05)]",
                               "model.backbone.init_cfg=dict(type='Pretrained', checkpoint='w.pth', prefix=None)",
                               "model.head.loss={'type': 'KeypointMSELoss', 'loss_weight': -1.5}"])
    assert cfg.test_evaluator == [dict(type="PCKAccuracy", norm_item="bbox", thr=0.05)]
    assert cfg.model.backbone.init_cfg == dict(type="Pretrained", checkpoint="w.pth", prefix=None)  # was None
    assert cfg.model.head.loss == dict(type="KeypointMSELoss", loss_weight=-1.5, use_target_weight=True)
    with pytest.raises(ConfigError, match=r"\"open\('x'\)\" is not a literal"):
        load_config(config, ["model.backbone.init_cfg=dict(type=open('x'))"])


@pytest.mark.parametrize("option, message", [
    ("model.backbone.init_cfg=5", "model.backbone.init_cfg = 5: expected None, a dict with a type"),
    ("model.backbone.init_cfg=dict(type='Pretrained', checkpoint='nope.pth')",
     "model.backbone.init_cfg: checkpoint nope.pth does not exist"),
])
def test_bad_init_cfg_is_named_before_the_run_starts(tmp_path, tiny_coco, option, message):
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        train_config(config, cfg_options=[option], work_dir=tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_a_torchvision_name_without_torchvision_is_one_line(tmp_path, tiny_coco):
    import importlib.util

    if importlib.util.find_spec("torchvision") is not None:
        pytest.skip("torchvision is installed here: the name would be resolved (and downloaded)")
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=1)
    config.write_text(config.read_text().replace(
        "init_cfg=None", "init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet18')"))
    done = mmpx("train", str(config), "--work-dir", str(tmp_path / "w"))
    assert done.returncode == 1, done.stderr
    assert "torchvision is not installed here" in done.stderr and "unexpected" not in done.stderr
