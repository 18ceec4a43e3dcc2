"""MultiClassPCKAccuracy's per-keypoint figures of each class, ``PCK/<class>/<keypoint>``: one keypoint of one class
moved off, only its figure drops; a keypoint no instance labels has none. And ``mmpx eval`` on the results file
MultiClassCocoMetric writes gives the metric's per-class AP and mean."""

from __future__ import annotations

from pathlib import Path

import pytest
from mmengine.registry import DefaultScope

import mmpose_ext  # noqa: F401  (registers the dataset and the metrics)
from mmpose_ext.registry import DATASETS, METRICS
from tests.mmpose_ext.evaluation.test_multiclass_metric import _samples
from tests.mmpx.configs.multiclass_data import BICYCLE, CAR, make_dataset

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    street: Path = make_dataset(tmp_path_factory.mktemp("street") / "data", images=5)
    with DefaultScope.overwrite_default_scope("mmpose"):
        return DATASETS.build(dict(type="MultiClassCocoDataset", data_root=str(street),
                                   ann_file="annotations/train.json", data_prefix=dict(img="images/"),
                                   metainfo=dict(from_file=str(street / "metainfo.py")), pipeline=[],
                                   test_mode=True))


def _pck(dataset, samples) -> dict:
    metric = METRICS.build(dict(type="MultiClassPCKAccuracy", thr=0.05))
    metric.dataset_meta = dataset.metainfo
    metric.process([], samples)
    return metric.evaluate(len(samples))


def test_per_keypoint_per_class(dataset):
    samples = _samples(dataset)
    for s in samples:
        cls = next(c for c in dataset.metainfo["classes"] if c["id"] == int(s["category_id"]))
        own = slice(cls["start"], cls["stop"])
        s["pred_instances"]["keypoints"][0, own] = s["gt_instances"]["keypoints"][0, own]
        if cls["name"] == "bicycle":  # the saddle-less bicycle's rear wheel off by 20 px
            s["pred_instances"]["keypoints"][0, cls["start"] + 1] += 20
    metrics = _pck(dataset, samples)
    expected = {f"PCK/car/{k}": 1.0 for k in CAR} | {f"PCK/bicycle/{k}": 1.0 for k in BICYCLE}
    expected["PCK/bicycle/rear_wheel"] = 0.0
    assert {k: v for k, v in metrics.items() if k.startswith("PCK/")} == expected
    assert metrics["bicycle/PCK"] == pytest.approx(0.75) and metrics["car/PCK"] == 1.0


def test_unlabelled_keypoint_has_no_figure(dataset):
    samples = _samples(dataset)
    for s in samples:
        s["gt_instances"]["keypoints_visible"] = s["gt_instances"]["keypoints_visible"].copy()
        s["gt_instances"]["keypoints_visible"][0, 0] = 0  # nobody labels the car's left_front
    metrics = _pck(dataset, samples)
    assert "PCK/car/left_front" not in metrics and "PCK/car/right_front" in metrics


def test_mmpx_eval_on_the_metrics_results_file_gives_its_figures(dataset, tmp_path):
    """``mmpx eval`` on the results MultiClassCocoMetric wrote gives the metric's per-class AP and mean, exactly."""
    import contextlib
    import io

    from mmpx.evaluation.api import evaluate

    gt = Path(dataset.ann_file)
    metric = METRICS.build(dict(type="MultiClassCocoMetric", ann_file=str(gt), score_mode="keypoint",
                                outfile_prefix=str(tmp_path / "run")))
    metric.dataset_meta = dataset.metainfo
    metric.process([], _samples(dataset, seed=4))
    with contextlib.redirect_stdout(io.StringIO()):
        logged = metric.evaluate(len(dataset))
    meta = Path(dataset.data_root) / "metainfo.py"
    out = evaluate(gt, tmp_path / "run.keypoints.json", metainfo=meta, metrics=["coco"])
    for cls in out["classes"]:
        assert cls["metrics"]["AP"] == logged[f"coco/{cls['name']}/AP"]
        assert cls["metrics"]["AR"] == logged[f"coco/{cls['name']}/AR"]
    assert out["metrics"]["AP"] == pytest.approx(logged["coco/AP"], abs=1e-12)
