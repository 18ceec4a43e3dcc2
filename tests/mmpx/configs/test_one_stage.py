"""``mmpx configs new`` for whole-image models: RTMO-t trained for two iterations on synthetic multi-car scenes
with ``mmpx train`` and with MMPose's own ``Runner.from_cfg``, then tested and evaluated; RTMO-s and DEKR built
and preflighted; the whole-image preflight on broken copies of the data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmpx.errors import MmpxError
from mmpx.testing import run_cli, train_briefly
from tests.mmpx.configs.one_stage_data import make_rtmo_config

pytestmark = pytest.mark.stack  # builds and trains MMPose models


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Scenes of up to 5 cars, an rtmo-t config from ``mmpx configs new`` at 160x160, two training iterations
    with ``mmpx train``."""
    root = tmp_path_factory.mktemp("one_stage")
    config, data = make_rtmo_config(root)  # built and preflighted before it is written
    checkpoint = train_briefly(config, root / "work", samples=4, batch_size=2)
    return config, data, checkpoint


def _cfg(path: Path):
    from mmengine.config import Config

    return Config.fromfile(str(path))


def test_the_config_follows_the_metainfo(trained):
    config, data, _ = trained
    cfg = _cfg(config)
    assert cfg.default_scope == "mmpose" and cfg.custom_imports.imports == ["mmpose_ext"]
    assert cfg.model.type == "BottomupPoseEstimator" and cfg.model.backbone.init_cfg is None
    head = cfg.model.head
    assert head.num_keypoints == 8 and head.loss_oks.metainfo == head.assigner.oks_calculator.metainfo
    assert head.loss_oks.metainfo == cfg.metainfo.from_file == str(data / "metainfo.py")
    assert cfg.input_size == (160, 160) and cfg.codec.input_size == (160, 160)
    assert cfg.train_dataloader.dataset.data_mode == "bottomup"
    assert any(t.type == "RandomFlip" for t in cfg.train_pipeline_stage1)  # carpose pairs left and right
    assert cfg.val_evaluator.score_mode == "bbox" and cfg.val_evaluator.nms_mode == "none"


def test_trained_checkpoint_tests_and_evaluates(trained, tmp_path):
    import torch

    config, data, checkpoint = trained
    meta = torch.load(checkpoint, map_location="cpu", weights_only=False)["meta"]["dataset_meta"]
    assert [meta["keypoint_id2name"][i] for i in range(8)][:2] == ["left_front_bumper", "right_front_bumper"]
    tested = run_cli("test", config, checkpoint, "--work-dir", tmp_path / "test")
    assert tested.exit_code == 0, tested.stderr[-3000:]
    assert "coco/AP" in tested.stdout + tested.stderr
    (predictions,) = (tmp_path / "test").rglob("test_results.json")
    scored = run_cli("eval", data / "annotations" / "val.json", predictions, "--metainfo", data / "metainfo.py")
    assert scored.exit_code == 0, scored.stderr[-3000:]
    assert "left_front_bumper" in scored.stdout


def test_mmpose_runner_trains_the_config(trained, tmp_path):
    """What MMPose's tools/train.py does: Config.fromfile, Runner.from_cfg, train."""
    from mmengine.runner import Runner

    config, _, _ = trained
    cfg = _cfg(config)
    cfg.work_dir = str(tmp_path)
    cfg.train_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.indices = 2
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.save_best = None
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 1 and (tmp_path / "epoch_1.pth").is_file()


@pytest.mark.parametrize("model", ["rtmo-s", "dekr-hrnet-w32"])
def test_other_models_build_and_preflight(trained, tmp_path, model):
    from mmpx.app.configs_new import ConfigsNewRequest, configs_new

    _, data, _ = trained
    done = configs_new(ConfigsNewRequest(data, model, tmp_path / "c.py", input_size="128", epochs="1"))
    cfg = _cfg(done.out)  # written after the model and the training set were built and preflighted
    assert cfg.model.head.num_keypoints == 8 and cfg.input_size == (128, 128)
    assert done.plan.batch == 6 and done.plan.val_batch == 1  # capped by the 6 training images


def test_shared_helper_and_sizes(tmp_path):
    from mmpx.configs.new import parse_side, plan_config

    config, data = make_rtmo_config(tmp_path / "a", check=False)
    assert config.is_file() and "num_keypoints=8" in config.read_text()
    made = run_cli("configs", "new", "--data", data, "--model", "rtmo-t", "--input-size", "160x128", "--out",
                   tmp_path / "b.py")
    assert made.exit_code != 0 and "square" in made.stderr and not (tmp_path / "b.py").exists()
    assert plan_config(data, "rtmo-s").input_size == (640, 640)  # MMPose's side unless --input-size
    assert plan_config(data, "dekr-hrnet-w32").input_size == (512, 512)
    assert parse_side("160x160") == parse_side("160") == (160, 160)
    for bad in ("160x128", "100", "big"):
        with pytest.raises(MmpxError, match="--input-size"):
            parse_side(bad)


def test_several_classes_are_refused(tmp_path):
    from mmpx.configs.new import plan_config
    from tests.mmpx.configs.multiclass_data import make_dataset

    data = make_dataset(tmp_path / "street")
    with pytest.raises(MmpxError, match="predicts one class"):
        plan_config(data, "rtmo-t")


def _broken_copy(data: Path, tmp_path: Path, edit) -> tuple[object, Path]:
    """A copy of ``data`` whose train.json ``edit`` changed, and the config pointing at it."""
    copy = tmp_path / "data"
    shutil.copytree(data, copy)
    ann = copy / "annotations" / "train.json"
    doc = json.loads(ann.read_text())
    edit(doc)
    ann.write_text(json.dumps(doc))
    return copy


def _problems(config: Path, data: Path):
    from mmpose_ext.apis.preflight import preflight

    cfg = _cfg(config)
    for loader in ("train_dataloader", "val_dataloader"):
        cfg[loader].dataset.data_root = f"{data}/"
    cfg.val_evaluator.ann_file = f"{data}/annotations/val.json"
    return {p.code: p for p in preflight(cfg, config, ("train", "val"))}


def test_preflight_clean_data_has_no_whole_image_problem(trained):
    config, data, _ = trained
    assert not [code for code in _problems(config, data) if code.startswith("whole-image")]


def test_preflight_names_unlabelled_crowd_negative_and_boxless(trained, tmp_path):
    config, data, _ = trained

    def edit(doc):
        anns = doc["annotations"]
        anns[0]["keypoints"] = [0] * 24  # a box whose car is not labelled
        anns[0]["num_keypoints"] = 0
        anns[1]["iscrowd"] = 1
        del anns[2]["bbox"]  # keypoints without a box: dropped by MMPose's bottom-up loader
        doc["images"].append(dict(doc["images"][0], id=999, file_name=doc["images"][0]["file_name"]))

    found = _problems(config, _broken_copy(data, tmp_path, edit))
    assert "every instance must be labelled" in found["whole-image-unlabelled"].hint
    assert "1 crowd region(s) (iscrowd=1) are ignored" in found["whole-image-crowd"].message
    assert "have no annotation: kept as negatives" in found["whole-image-negatives"].message
    boxless = found["whole-image-bbox"]
    assert boxless.severity == "error" and "no usable bbox (annotations[2])" in boxless.message

    from mmpose_ext.apis.prepare import check_config

    cfg = _cfg(config)
    cfg.train_dataloader.dataset.data_root = f"{tmp_path / 'data'}/"
    with pytest.raises(MmpxError, match="no usable bbox"):
        check_config(cfg, str(config), ("train", ))


def test_preflight_names_missing_images_and_eval_fields(trained, tmp_path):
    config, data, _ = trained
    copy = _broken_copy(data, tmp_path, lambda doc: None)
    (copy / "images" / json.loads((copy / "annotations" / "train.json").read_text())["images"][0]["file_name"]
     ).unlink()
    val = copy / "annotations" / "val.json"
    doc = json.loads(val.read_text())
    for ann in doc["annotations"]:
        del ann["area"]
    val.write_text(json.dumps(doc))
    found = _problems(config, copy)
    assert found["whole-image-missing"].message.startswith("1 of 6 images")
    assert "records without area" in found["whole-image-eval-fields"].message
