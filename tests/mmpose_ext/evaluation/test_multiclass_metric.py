"""MultiClassCocoMetric and MultiClassPCKAccuracy on a real two-class COCO file: per-class AP equals COCOeval run by
hand on single-category copies of the same files with the class's sigmas (exactly), another class's keypoints
never count, and the means."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.registry import DefaultScope
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

import mmpose_ext  # noqa: F401  (registers the dataset and the metrics)
from mmpose_ext.registry import DATASETS, METRICS
from mmpx.errors import MmpxError
from tests.mmpx.configs.multiclass_data import make_dataset

pytestmark = pytest.mark.stack

STATS = ("AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)")


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("street") / "data", images=7)


@pytest.fixture(scope="module")
def dataset(street):
    with DefaultScope.overwrite_default_scope("mmpose"):
        return DATASETS.build(dict(type="MultiClassCocoDataset", data_root=str(street),
                                   ann_file="annotations/train.json", data_prefix=dict(img="images/"),
                                   metainfo=dict(from_file=str(street / "metainfo.py")), pipeline=[],
                                   test_mode=True))


def _samples(dataset, seed: int = 0) -> list[dict]:
    """A top-down model's outputs: the union's keypoints, the instance's own block near the truth (cars closer
    than bicycles), the other block far off with high scores (must never count)."""
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        cls = next(c for c in dataset.metainfo["classes"] if c["id"] == info["category_id"])
        own = slice(cls["start"], cls["stop"])
        keypoints = rng.uniform(0, 128, (1, 8, 2)).astype(np.float32)
        keypoints[0, own] = info["keypoints"][0, own] + rng.normal(0, 1.0 if cls["name"] == "car" else 4.0, (4, 2))
        scores = np.full((1, 8), 0.99, np.float32)
        scores[0, own] = rng.uniform(0.3, 0.9, 4)
        samples.append(dict(
            id=info["id"], img_id=info["img_id"], category_id=np.array(info["category_id"]), ori_shape=(96, 128),
            raw_ann_info=info["raw_ann_info"],
            pred_instances=dict(keypoints=keypoints, keypoint_scores=scores),
            gt_instances=dict(bbox_scores=np.ones(1, np.float32), bboxes=info["bbox"], keypoints=info["keypoints"],
                              keypoints_visible=info["keypoints_visible"]),
        ))
    return samples


def _evaluate(dataset, samples, **kwargs) -> dict:
    metric = METRICS.build(dict(type="MultiClassCocoMetric", **kwargs))
    metric.dataset_meta = dataset.metainfo
    metric.process([], samples)
    with contextlib.redirect_stdout(io.StringIO()):
        return metric.evaluate(len(samples))


def _by_hand(gt_file: Path, samples, cls: dict, sigmas, tmp_path: Path) -> list[float]:
    """COCOeval on a copy of the GT with this category alone and this class's predictions, sliced here."""
    doc = json.loads(gt_file.read_text())
    doc["categories"] = [c for c in doc["categories"] if c["id"] == cls["id"]]
    doc["annotations"] = [a for a in doc["annotations"] if a["category_id"] == cls["id"]]
    gt_copy, res_copy = tmp_path / f"gt_{cls['name']}.json", tmp_path / f"res_{cls['name']}.json"
    gt_copy.write_text(json.dumps(doc))
    block, results = slice(cls["start"], cls["stop"]), []
    for s in samples:
        if int(s["category_id"]) != cls["id"]:
            continue
        kpts, scores = s["pred_instances"]["keypoints"][0, block], s["pred_instances"]["keypoint_scores"][0, block]
        results.append(dict(image_id=int(s["img_id"]), category_id=cls["id"], score=float(np.mean(scores)),
                            keypoints=np.concatenate([kpts, scores[:, None]], 1).reshape(-1).tolist()))
    res_copy.write_text(json.dumps(results))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_copy))
        evaluator = COCOeval(gt, gt.loadRes(str(res_copy)), "keypoints", np.asarray(sigmas[block]))
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return [float(v) for v in evaluator.stats]


@pytest.mark.parametrize("with_ann_file", [True, False])
def test_per_class_ap_equals_cocoeval_per_category(street, dataset, tmp_path, with_ann_file):
    """With the annotation file, or with the GT rebuilt from the samples' raw annotations (no ann_file)."""
    samples = _samples(dataset)
    gt_file = street / "annotations" / "train.json"
    kwargs = dict(ann_file=str(gt_file)) if with_ann_file else {}
    metrics = _evaluate(dataset, samples, score_mode="keypoint", outfile_prefix=str(tmp_path / "out"), **kwargs)
    sigmas = np.asarray(dataset.metainfo["sigmas"])
    assert sigmas[4:] == pytest.approx([0.05, 0.05, 0.03, 0.03])  # the bicycle's own, not the car's default
    per_class = {}
    for cls in dataset.metainfo["classes"]:
        expected = _by_hand(gt_file, samples, cls, sigmas, tmp_path)
        got = [metrics[f"coco/{cls['name']}/{name}"] for name in STATS]
        assert got == expected  # exactly
        per_class[cls["name"]] = expected
    assert per_class["car"][0] > per_class["bicycle"][0] >= 0  # the car predictions are the closer ones
    assert 0 < per_class["car"][0] <= 1
    assert metrics["coco/AP"] == pytest.approx((per_class["car"][0] + per_class["bicycle"][0]) / 2)
    assert metrics["coco/AR"] == pytest.approx((per_class["car"][5] + per_class["bicycle"][5]) / 2)
    # the kept results file: standard multi-category COCO results, each with its class's own keypoints
    results = json.loads((tmp_path / "out.keypoints.json").read_text())
    assert len(results) == len(samples)
    assert {r["category_id"] for r in results} == {1, 2} and all(len(r["keypoints"]) == 12 for r in results)


def test_other_class_block_never_counts(street, dataset):
    """Perfect own blocks score AP 1 whatever the other block holds; moving one bicycle point changes bicycle only."""
    samples = _samples(dataset)
    for s in samples:
        cls = next(c for c in dataset.metainfo["classes"] if c["id"] == int(s["category_id"]))
        own = slice(cls["start"], cls["stop"])
        s["pred_instances"]["keypoints"][0, own] = s["gt_instances"]["keypoints"][0, own]
    gt = dict(ann_file=str(street / "annotations" / "train.json"))
    perfect = _evaluate(dataset, samples, **gt)
    assert perfect["coco/car/AP"] == perfect["coco/bicycle/AP"] == perfect["coco/AP"] == 1.0
    for s in samples:  # bicycles' points far off: the car figures stay
        if int(s["category_id"]) == 2:
            s["pred_instances"]["keypoints"][0, 4:] += 30
    worse = _evaluate(dataset, samples, **gt)
    assert worse["coco/car/AP"] == 1.0 and worse["coco/bicycle/AP"] < 0.1
    assert worse["coco/AP"] == pytest.approx((1.0 + worse["coco/bicycle/AP"]) / 2)


def test_per_class_pck(dataset):
    samples = _samples(dataset)
    for s in samples:
        cls = next(c for c in dataset.metainfo["classes"] if c["id"] == int(s["category_id"]))
        own = slice(cls["start"], cls["stop"])
        shift = 0 if cls["name"] == "car" else 20  # bicycles off by 20 px: beyond 0.05 of a ~54 px box
        s["pred_instances"]["keypoints"][0, own] = s["gt_instances"]["keypoints"][0, own] + shift
    metric = METRICS.build(dict(type="MultiClassPCKAccuracy", thr=0.05))
    metric.dataset_meta = dataset.metainfo
    metric.process([], samples)
    metrics = metric.evaluate(len(samples))
    assert metrics["car/PCK"] == 1.0 and metrics["bicycle/PCK"] == 0.0
    assert metrics["PCK"] == pytest.approx(0.5)  # the union: other classes' keypoints are invisible


def test_needs_the_classes(dataset):
    metric = METRICS.build(dict(type="MultiClassCocoMetric"))
    metric.dataset_meta = {k: v for k, v in dataset.metainfo.items() if k != "classes"}
    metric.process([], _samples(dataset)[:2])
    with pytest.raises(MmpxError, match="needs the dataset's classes"):
        metric.evaluate(2)
    with pytest.raises(MmpxError, match="does not take pred_converter"):
        METRICS.build(dict(type="MultiClassCocoMetric", pred_converter=dict(num_keypoints=8, mapping=[])))


def test_nms_per_class(street, dataset, tmp_path):
    """A repeated detection of a car is suppressed; a bicycle predicted on the very same spot is not (NMS runs
    per class, with the class's sigmas)."""
    samples = _samples(dataset)[:2]  # image 1: its car and its bicycle
    car = next(s for s in samples if int(s["category_id"]) == 1)
    twin = {**car, "id": 999, "pred_instances": {k: v.copy() for k, v in car["pred_instances"].items()}}
    twin["pred_instances"]["keypoints"][0, :4] += 0.5
    bike_on_car = {**twin, "id": 1000, "category_id": np.array(2),
                   "pred_instances": {k: v.copy() for k, v in twin["pred_instances"].items()}}
    bike_on_car["pred_instances"]["keypoints"][0, 4:] = car["pred_instances"]["keypoints"][0, :4]
    _evaluate(dataset, [*samples, twin, bike_on_car], ann_file=str(street / "annotations" / "train.json"),
              outfile_prefix=str(tmp_path / "nms"))
    results = json.loads((tmp_path / "nms.keypoints.json").read_text())
    assert sorted(r["category_id"] for r in results) == [1, 2, 2]
