"""The other model of the top-down flow: `mmpx train` / `mmpx test` run an MMDetection config
(RTMDet-tiny for cars) from the same converted dataset as the pose model, with preflight, plots, resume and
freezing; `mmpx infer` then uses both. Before: `KeyError: 'PlotHook is not in the mmdet::hook registry'`, and the
preflight read the car annotations as 17-keypoint COCO."""

from __future__ import annotations

import json

import pytest

import mmpose_ext  # noqa: F401
from mmpose_ext.apis.preflight import preflight
from mmpose_ext.config import load_config
from tests.helpers import ROOT, mmpx

pytestmark = pytest.mark.stack
DET = ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose.py"
POSE = ROOT / "configs" / "carpose" / "rtmpose-t_carpose-256x256.py"
ENV = {"OMP_NUM_THREADS": "1"}
SMALL = [f"{loader}_dataloader.{key}" for loader in ("train", "val", "test")
         for key in ("num_workers=0", "persistent_workers=False")] + ["train_dataloader.batch_size=4"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("det")
    assert mmpx("data", "synth", "carpose", str(root / "labelme"), "--n", "16", "--size", "128").returncode == 0
    meta = ROOT / "mmpose_ext" / "datasets" / "metainfo" / "carpose.py"
    done = mmpx("convert", "labelme", str(root / "labelme"), str(root / "data"), "--metainfo", str(meta),
                "--category", "car")
    assert done.returncode == 0, done.stderr
    return root


SMALL_DET = """
_base_ = [{det!r}]
data_root = {root!r}
# the suite's budget: 160x160 instead of 640 (mosaic, mixup), no worker processes; the flow is what is tested
train_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(160, 160), keep_ratio=True), dict(type='RandomFlip', prob=0.5),
    dict(type='Pad', size=(160, 160), pad_val=dict(img=(114, 114, 114))), dict(type='PackDetInputs')]
test_pipeline = [
    dict(type='LoadImageFromFile'), dict(type='Resize', scale=(160, 160), keep_ratio=True),
    dict(type='Pad', size=(160, 160), pad_val=dict(img=(114, 114, 114))),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs', meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor'))]
train_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
# two tiny epochs score boxes below mmdet's 0.001 floor, at times exactly 0: keep the best 5 per image whatever
# their score (-1: even 0 passes), so the flow after the detector always has boxes
model = dict(test_cfg=dict(score_thr=-1.0, max_per_img=5))
# RTMDet's lr for batch 256 sent a few of these 4-image runs to NaN scores (no box at all): a small one, seeded
optim_wrapper = dict(optimizer=dict(lr=1e-4))
randomness = dict(seed=0)
"""


def _small_detector(root, tmp_path):
    config = tmp_path / "rtmdet-small.py"
    config.write_text(SMALL_DET.format(det=str(DET), root=f"{root / 'data'}/"))
    return config


@pytest.mark.slow
def test_train_test_resume_and_infer_with_both_models(data, tmp_path):
    det, work = _small_detector(data, tmp_path), tmp_path / "det"
    first = mmpx("train", str(det), "--work-dir", str(work), "--no-progress", "--cfg-options",
                 "train_cfg.max_epochs=1", env=ENV)
    assert first.returncode == 0, first.stderr[-3000:]
    assert (work / "epoch_1.pth").is_file() and (work / "loss.png").is_file()
    again = mmpx("train", str(det), "--work-dir", str(work), "--no-progress", "--resume", "auto", "--freeze",
                 "backbone", "--cfg-options", "train_cfg.max_epochs=2", env=ENV)
    assert again.returncode == 0, again.stderr[-3000:]
    out = again.stdout + again.stderr
    assert "resumed epoch: 1" in out and "FreezeHook froze" in out and (work / "epoch_2.pth").is_file()
    metrics = tmp_path / "m.json"
    tested = mmpx("test", str(det), str(work / "epoch_2.pth"), "--work-dir", str(tmp_path / "t"), "--out",
                  str(metrics), env=ENV)
    assert tested.returncode == 0, tested.stderr[-3000:]
    assert "coco/bbox_mAP" in json.loads(metrics.read_text())

    # the pose model (untrained: the two-model flow is what is tested) and the detector together
    import torch
    from mmpose.apis import init_model

    model = init_model(str(POSE), None, device="cpu")
    pose_ckpt = tmp_path / "pose.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, pose_ckpt)
    results = tmp_path / "r.json"
    image = sorted((data / "data" / "images").rglob("*.jpg"))[0]
    inferred = mmpx("infer", str(image), "--pose", str(POSE), "--weights", str(pose_ckpt), "--det-config",
                    str(det), "--det-weights", str(work / "epoch_2.pth"), "--bbox-thr", "-1", "--save-json",
                    str(results), "--no-progress", env=ENV)
    assert inferred.returncode == 0, inferred.stderr[-3000:]
    records = json.loads(results.read_text())
    assert len(records) == 5 and all(len(r["keypoints"]) == 8 * 3 for r in records)  # 5 boxes, 8 car keypoints


def test_preflight_checks_a_detector_config_as_detection_data(data):
    cfg = load_config(DET, [f"{loader}_dataloader.dataset.data_root={data / 'data'}/"
                            for loader in ("train", "val", "test")] + SMALL
                      + [f"val_evaluator.ann_file={data / 'data/annotations/val.json'}"])
    assert preflight(cfg, DET, ("train", "val")) == []  # the keypoints are not read as 17-keypoint COCO
    wrong = load_config(DET, [f"train_dataloader.dataset.data_root={data / 'data'}/",
                              "train_dataloader.dataset.metainfo.classes=[person]"] + SMALL)
    found = [p for p in preflight(wrong, DET, ("train",)) if p.code == "det-classes"]
    assert len(found) == 1 and "none of the classes ['person']" in found[0].message and "['car']" in found[0].message
    workers = load_config(DET, [f"train_dataloader.dataset.data_root={data / 'data'}/",
                                "train_dataloader.num_workers=0"])
    assert [p.code for p in preflight(workers, DET, ("train",))] == ["loader-workers"]
