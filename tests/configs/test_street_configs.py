"""The shipped street configs (configs/street/): the multi-class RTMPose-t for cars and bicycles and its two-class
RTMDet-tiny detector load by name, pass preflight and train on a small street set made here as their headers say
(`mmpx data synth street` + `mmpx convert labelme --classes car,bicycle` into data/street of the run folder).

The pose model is tested after two iterations and reports each class's AP; the detector reads the multi-category
keypoint file as two-class detection data (car 0, bicycle 1) and predicts those two labels.
"""

from __future__ import annotations

import json

import pytest
import torch

from mmpose_ext.apis.preflight import preflight
from mmpose_ext.config import load_config
from mmpx.convert.labelme import convert_labelme
from mmpx.synth.street import synth_street

pytestmark = pytest.mark.stack
POSE, DETECTOR = "rtmpose-t_street", "rtmdet-tiny_street-cpu"
# two iterations of batch 2 in this process, no workers, nothing kept but the last checkpoint
BRIEF = dict(
    train_dataloader=dict(batch_size=2, num_workers=0, persistent_workers=False,
                          dataset=dict(indices=4)),
    val_dataloader=dict(batch_size=4, num_workers=0, persistent_workers=False),
    test_dataloader=dict(batch_size=4, num_workers=0, persistent_workers=False),
    train_cfg=dict(max_epochs=1, val_interval=10),
    default_hooks=dict(checkpoint=dict(interval=1, save_best=None), logger=dict(interval=1)),
)


@pytest.fixture(scope="module")
def street(tmp_path_factory):
    """A run folder with data/street: 10 synthetic street images (cars and bicycles), 128x128, converted."""
    root = tmp_path_factory.mktemp("street")
    synth_street(root / "data" / "street-raw", n=10, seed=0, size=128)
    convert_labelme(root / "data" / "street-raw", root / "data" / "street", classes="car,bicycle", seed=0, workers=0)
    val = json.loads((root / "data" / "street" / "annotations" / "val.json").read_text())
    assert {a["category_id"] for a in val["annotations"]} == {1, 2}  # both classes to score
    return root


def brief(cfg, work_dir):
    cfg.merge_from_dict(BRIEF)
    cfg.work_dir = str(work_dir)
    if cfg.get("custom_hooks"):  # the epoch-based stage-2 switch and the EMA are not what this checks
        cfg.custom_hooks = [h for h in cfg.custom_hooks if "PipelineSwitchHook" not in h["type"]]
    return cfg


@pytest.mark.parametrize("name", [POSE, DETECTOR])
def test_street_config_passes_preflight(street, monkeypatch, name):
    monkeypatch.chdir(street)  # the configs' data paths are relative to the folder one trains in
    cfg = load_config(name)
    assert cfg.model.backbone.init_cfg is None and not cfg.get("load_from")
    assert preflight(cfg, name) == []


def test_preflight_names_missing_street_data(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/street here
    problems = preflight(load_config(POSE), POSE)
    assert problems and any("data/street" in f"{p.message} {p.hint}" for p in problems), problems


def test_pose_config_trains_and_scores_each_class(street, monkeypatch):
    from mmengine.runner import Runner

    monkeypatch.chdir(street)
    cfg = load_config(POSE)
    assert cfg.model.head.out_channels == 14 and cfg.train_dataloader.dataset.type == "MultiClassCocoDataset"
    runner = Runner.from_cfg(brief(cfg, street / "work-pose"))
    runner.train()
    metrics = runner.test()
    for key in ("coco/car/AP", "coco/bicycle/AP", "coco/AP", "car/PCK", "bicycle/PCK"):
        assert key in metrics and 0 <= metrics[key] <= 1, (key, sorted(metrics))
    assert (street / "work-pose" / "epoch_1.pth").is_file()


def test_detector_config_reads_two_classes_and_predicts_them(street, monkeypatch):
    import mmdet.utils
    from mmengine.runner import Runner

    mmdet.utils.register_all_modules(init_default_scope=False)
    monkeypatch.chdir(street)
    cfg = load_config(DETECTOR)
    assert cfg.model.bbox_head.num_classes == 2 and cfg.train_dataloader.dataset.metainfo.classes == ("car", "bicycle")
    cfg = brief(cfg, street / "work-det")
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = Runner.from_cfg(cfg)
    dataset = runner.train_dataloader.dataset
    labels = {inst["bbox_label"] for i in range(len(dataset)) for inst in dataset.get_data_info(i)["instances"]}
    assert labels == {0, 1}  # category 1 (car) is label 0, category 2 (bicycle) label 1
    runner.train()
    model = runner.model.eval()
    batch = next(iter(runner.build_dataloader(runner.cfg.test_dataloader)))
    with torch.no_grad():
        results = model.test_step(batch)
    predicted = {int(label) for r in results for label in r.pred_instances.labels}
    assert predicted and predicted <= {0, 1}, predicted
    with torch.no_grad():
        cls_scores, _ = model(torch.zeros(1, 3, 320, 320), mode="tensor")
    assert cls_scores[0].shape[1] == 2
