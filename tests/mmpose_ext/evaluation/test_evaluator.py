"""CombinedDatasetEvaluator on two Human-Art splits of one dataset class, against CocoMetric run on each alone."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import InstanceData

import mmpose_ext  # noqa: F401  (registers the evaluator, as custom_imports does)
from mmpose_ext.registry import DATASETS, EVALUATORS, METRICS, MODELS, TRANSFORMS
from mmpx.errors import MmpxError
from tests.helpers import ROOT

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

CONFIG = ROOT / "configs" / "humanart" / "rtmpose-t_humanart-two-scenes-val.py"
GROUPS = ("real_human", "2D_virtual_human")
NAMES = [f"Human-Art_{g}" for g in GROUPS]


@pytest.fixture(scope="module")
def humanart(shared_data) -> Path:
    return shared_data / "mmpose-testdata" / "humanart"


@pytest.fixture(scope="module")
def splits(humanart) -> list[dict]:
    split = dict(type="HumanArtScenesDataset", data_root=str(humanart), ann_file="test_humanart.json",
                 data_prefix=dict(img=""), test_mode=True, pipeline=[])
    return [dict(split, groups=[g]) for g in GROUPS]


@pytest.fixture(scope="module")
def samples(splits) -> list:
    """Packed data samples of an ``IndexedCombinedDataset`` of the two splits, ground truth only."""
    pipeline = [TRANSFORMS.build(dict(type=t)) for t in ("LoadImage", "GetBBoxCenterScale", "PackPoseInputs")]
    dataset = DATASETS.build(dict(type="IndexedCombinedDataset", datasets=splits, pipeline=pipeline,
                                  metainfo=DATASETS.get("HumanArtScenesDataset").METAINFO, test_mode=True))
    assert dataset.lens == [2, 1]  # real_human: 1 image, 2 people; 2D_virtual_human: 1 image, 1 person
    return [dataset[i]["data_samples"] for i in range(len(dataset))]


@pytest.fixture(scope="module")
def instances(humanart) -> dict[str, int]:
    """People per group, counted from the annotation file (the weights of ``weighted/``)."""
    doc = json.loads((humanart / "test_humanart.json").read_text())
    group_of = {img["id"]: img["file_name"].split("/")[-3] for img in doc["images"]}
    return {g: sum(group_of[a["image_id"]] == g for a in doc["annotations"]) for g in GROUPS}


def predict(samples: list, noise: float = 0.0, drop_index: bool = False) -> list[dict]:
    """Samples as the model returns them: predictions = ground truth moved by ``noise`` x box size."""
    rng = np.random.default_rng(0)
    out = []
    for sample in samples:
        sample = copy.deepcopy(sample)
        keypoints = sample.gt_instances.keypoints.astype(np.float64)
        size = np.sqrt(np.prod(sample.gt_instances.bbox_scales, axis=1))[:, None, None]
        keypoints = keypoints + noise * size * rng.standard_normal(keypoints.shape)
        sample.pred_instances = InstanceData(keypoints=keypoints, keypoint_scores=np.ones(keypoints.shape[:2]))
        sample = sample.to_dict()
        if drop_index:
            sample.pop("dataset_index")
        out.append(sample)
    return out


def evaluate(evaluator, preds: list[dict], batch_size: int = 2) -> dict:
    for start in range(0, len(preds), batch_size):  # batches that mix the two splits
        batch = preds[start:start + batch_size]
        evaluator.process(batch, dict(inputs=[None] * len(batch), data_samples=batch))
    return evaluator.evaluate(len(preds))


def build_evaluator(splits: list[dict], **kwargs):
    return EVALUATORS.build(dict(type="CombinedDatasetEvaluator", metrics=[dict(type="CocoMetric")] * 2,
                                 datasets=splits, **kwargs))


def coco_alone(split: dict, preds: list[dict]) -> dict:
    """CocoMetric on one split by itself, its dataset_meta from that split's built dataset."""
    metric = METRICS.build(dict(type="CocoMetric"))
    metric.dataset_meta = DATASETS.build(split).metainfo
    metric.process([], preds)
    return metric.evaluate(len(preds))


def test_two_splits_of_one_class_stay_apart(splits, samples):
    evaluator = build_evaluator(splits)
    assert evaluator.names == NAMES  # both are 'Human-Art': the group tells them apart
    metrics = evaluate(evaluator, predict(samples))
    assert {k.split("/")[0] for k in metrics} == {*NAMES, "mean", "weighted"}
    for prefix in (*NAMES, "mean", "weighted"):
        assert metrics[f"{prefix}/coco/AP"] == pytest.approx(1.0)
    assert len([k for k in metrics if k.endswith("/coco/AP")]) == 4


@pytest.mark.parametrize("noise", [0.04, 0.08])
def test_each_split_scores_as_coco_metric_alone_and_aggregates_add_up(splits, samples, instances, noise):
    preds = predict(samples, noise)
    metrics = evaluate(build_evaluator(splits), preds)
    alone = [coco_alone(split, [p for p in preds if p["dataset_index"] == i]) for i, split in enumerate(splits)]
    for name, own in zip(NAMES, alone, strict=True):
        assert {f"{name}/{k}": v for k, v in own.items()} == pytest.approx(
            {k: v for k, v in metrics.items() if k.startswith(name + "/")})
    ap = [own["coco/AP"] for own in alone]
    assert ap[0] != ap[1]  # else mean and weighted could not differ
    weights = [instances[g] for g in GROUPS]
    assert metrics["mean/coco/AP"] == pytest.approx((ap[0] + ap[1]) / 2)
    assert metrics["weighted/coco/AP"] == pytest.approx((ap[0] * weights[0] + ap[1] * weights[1]) / sum(weights))
    # -1 (no people of medium size in either split) is not averaged as a number
    assert alone[0]["coco/AP (M)"] == alone[1]["coco/AP (M)"] == -1 == metrics["mean/coco/AP (M)"]


def humanart_metainfo(**changes) -> dict:
    meta = Config.fromfile(str(Path(DATASETS.get("HumanArtScenesDataset").METAINFO["from_file"]))).dataset_info
    return dict(meta.to_dict(), **changes)


def test_config_metainfo_reaches_the_sub_metric(splits, samples):
    default_sigmas = np.array(humanart_metainfo()["sigmas"])
    wide = humanart_metainfo(dataset_name="humanart_wide", sigmas=list(default_sigmas * 3))
    splits = [dict(splits[0], metainfo=wide), splits[1]]
    evaluator = build_evaluator(splits)
    assert evaluator.names == ["humanart_wide", "Human-Art"]  # names differ now: no suffix needed
    np.testing.assert_allclose(evaluator.split_metrics[0][0].dataset_meta["sigmas"], default_sigmas * 3)
    np.testing.assert_allclose(evaluator.split_metrics[1][0].dataset_meta["sigmas"], default_sigmas)
    preds = predict(samples, 0.08)
    metrics = evaluate(evaluator, preds)
    wide_alone = coco_alone(splits[0], preds[:2])
    assert metrics["humanart_wide/coco/AP"] == pytest.approx(wide_alone["coco/AP"])
    assert wide_alone["coco/AP"] > coco_alone(dict(splits[0], metainfo=None), preds[:2])["coco/AP"]


def test_mmpose_multi_dataset_evaluator_merges_the_same_splits(splits, samples):
    """The control: MMPose's evaluator keys metrics by dataset class name, so the two splits become one."""
    wide = humanart_metainfo(dataset_name="humanart_wide", sigmas=list(np.array(humanart_metainfo()["sigmas"]) * 3))
    theirs = EVALUATORS.build(dict(type="MultiDatasetEvaluator", datasets=[dict(splits[0], metainfo=wide), splits[1]],
                                   metrics=[METRICS.build(dict(type="CocoMetric")) for _ in splits]))
    assert list(theirs.metrics_dict) == ["Human-Art"]  # two datasets, one key
    # the config's metainfo is ignored: the class default's sigmas, not the override's
    np.testing.assert_allclose(theirs.metrics[0].dataset_meta["sigmas"], humanart_metainfo()["sigmas"])
    theirs.dataset_meta = dict(dataset_name="Human-Art")
    preds = predict(samples)
    theirs.process(preds, dict(inputs=[None] * 3, data_samples=preds))
    assert [len(m.results) for m in theirs.metrics] == [0, 3]  # everything went to the second metric
    with pytest.raises(ValueError):  # and the first cannot be evaluated
        theirs.evaluate(3)


def test_plain_combined_dataset_routes_by_dataset_name_only_when_unambiguous(splits, samples):
    preds = predict(samples, drop_index=True)
    with pytest.raises(MmpxError, match="IndexedCombinedDataset"):
        build_evaluator(splits).process(preds[:1])
    wide = [dict(splits[0], metainfo=humanart_metainfo(dataset_name="humanart_wide")), splits[1]]
    for pred in preds[:2]:
        pred["dataset_name"] = "humanart_wide"
    metrics = evaluate(build_evaluator(wide), preds)
    assert metrics["humanart_wide/coco/AP"] == pytest.approx(1.0) == metrics["Human-Art/coco/AP"]


def test_names(splits):
    assert build_evaluator(splits, names=["real", "virtual"]).names == ["real", "virtual"]
    same = [dict(s, groups=None) for s in splits]
    assert build_evaluator(same).names == ["Human-Art_0", "Human-Art_1"]
    for bad in (["a", "a"], ["a"], ["mean", "b"], ["a/b", "c"]):
        with pytest.raises(MmpxError):
            build_evaluator(splits, names=bad)
    with pytest.raises(MmpxError, match="2 metric entries for 1"):
        build_evaluator(splits[:1])
    metrics = build_evaluator(splits, aggregate=["mean"])
    assert metrics.aggregate == ("mean",)


def test_names_do_not_collide_with_mmpose_in_either_import_order():
    code = ("import {0}, {1}; from mmpose.registry import EVALUATORS, DATASETS; "
            "assert EVALUATORS.get('CombinedDatasetEvaluator').__module__.startswith('mmpose_ext'); "
            "assert DATASETS.get('IndexedCombinedDataset').__module__.startswith('mmpose_ext'); "
            "assert EVALUATORS.get('MultiDatasetEvaluator').__module__.startswith('mmpose.')")
    theirs = "mmpose.evaluation, mmpose.datasets"
    orders = [("mmpose_ext", theirs), (theirs, "mmpose_ext")]
    procs = [subprocess.Popen([sys.executable, "-c", code.format(*o)], stderr=subprocess.PIPE, text=True)
             for o in orders]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()[-2000:]


def test_runner_test_reports_prefixed_metrics_and_aggregates(humanart, tmp_path):
    """The two-scenes config through mmengine's Runner, with an untrained RTMPose-t checkpoint."""
    from mmengine.runner import Runner

    cfg = Config.fromfile(str(CONFIG))
    for split in (*cfg.test_dataloader.dataset.datasets, *cfg.test_evaluator.datasets):
        split.update(data_root=str(humanart), ann_file="test_humanart.json")
    cfg.test_dataloader.update(batch_size=2, num_workers=0, persistent_workers=False)
    torch.manual_seed(0)
    checkpoint = tmp_path / "untrained.pth"
    torch.save({"state_dict": MODELS.build(cfg.model).state_dict(), "meta": {}}, checkpoint)
    cfg.update(work_dir=str(tmp_path / "work"), load_from=str(checkpoint))
    metrics = Runner.from_cfg(cfg).test()
    for prefix in (*NAMES, "mean", "weighted"):
        for key in ("coco/AP", "coco/AR"):
            assert 0.0 <= metrics[f"{prefix}/{key}"] <= 1.0
    assert metrics["mean/coco/AR"] == pytest.approx(
        (metrics[f"{NAMES[0]}/coco/AR"] + metrics[f"{NAMES[1]}/coco/AR"]) / 2)
