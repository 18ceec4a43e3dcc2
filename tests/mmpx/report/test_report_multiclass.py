"""``mmpx report`` on a run of several classes: a per-class table (AP from ``coco/<class>/...``, PCK from
``<class>/PCK``) and each class's per-keypoint PCK (``PCK/<class>/<keypoint>``), beside a baseline's; a one-class
run has none; ``mmpx eval --report`` and a run's predictions of several classes are scored per class, the gallery
drawing each instance's own class's points. Torch-free."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mmpx.report import build_eval_report, build_report
from mmpx.report.classes import class_names
from tests.mmpx.configs.multiclass_data import make_dataset

ONE_CLASS = {"coco/AP": 0.6, "coco/AR": 0.7, "PCK": 0.8}


def _metrics(car_ap: float, bicycle_ap: float) -> dict:
    out = {"coco/AP": (car_ap + bicycle_ap) / 2, "PCK": 0.7}
    for name, ap in (("car", car_ap), ("bicycle", bicycle_ap)):
        out |= {f"coco/{name}/AP": ap, f"coco/{name}/AP .5": 1.0, f"coco/{name}/AP .75": ap,
                f"coco/{name}/AR": ap + 0.05, f"{name}/PCK": ap + 0.1}
    out |= {"PCK/car/left_front": 0.9, "PCK/car/right_front": 0.8, "PCK/bicycle/front_wheel": 0.5}
    out["coco/bicycle/AP (L)"] = -1.0
    return out


def _run(root: Path, metrics: dict) -> Path:
    vis = root / "20260101_000000" / "vis_data"
    vis.mkdir(parents=True)
    lines = [dict(loss=0.1, lr=1e-3, epoch=1, iter=s, step=s) for s in range(1, 4)] + [{**metrics, "step": 1}]
    (vis / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (root / "config.py").write_text("train_cfg = dict(max_epochs=1, val_interval=1)\n")
    return root


def _cell(html: str, row: str, column: int) -> str:
    found = re.search(rf'<tr data-class="{row}">(.*?)</tr>', html, re.S)
    assert found, row
    return re.findall(r"<td[^>]*>(.*?)</td>", found.group(1))[column]


def test_per_class_table(tmp_path):
    run = _run(tmp_path / "run", _metrics(0.9, 0.5))
    html = build_report(run).path.read_text()
    assert 'id="class-metrics"' in html and 'href="#classes"' in html
    assert _cell(html, "car", 0) == "0.9000" and _cell(html, "bicycle", 0) == "0.5000"
    assert _cell(html, "bicycle", 4) == "0.6000"  # bicycle/PCK
    assert re.search(r'data-key="car/left_front"><th scope="row">left_front</th><td data-value="0.9">0.9000', html)
    assert 'id="class-keypoints-bicycle"' in html


def test_beside_a_baseline(tmp_path):
    run = _run(tmp_path / "run", _metrics(0.9, 0.5))
    base = _run(tmp_path / "base", _metrics(0.8, 0.4))
    html = build_report(run, compare=base).path.read_text()
    assert _cell(html, "car", 0) == "0.9000 (0.8000)" and _cell(html, "bicycle", 0) == "0.5000 (0.4000)"


def test_one_class_run_has_no_class_table(tmp_path):
    run = _run(tmp_path / "run", ONE_CLASS)
    html = build_report(run).path.read_text()
    assert 'id="class-metrics"' not in html and 'href="#classes"' not in html
    assert class_names(ONE_CLASS) == [] and class_names(_metrics(1, 1)) == ["car", "bicycle"]


def _results(gt: dict, far: int) -> list[dict]:
    """One result per annotation: the truth, one bicycle (annotation ``far``) moved 6 px off."""
    out = []
    for a in gt["annotations"]:
        k = list(a["keypoints"])
        if a["id"] == far:
            k = [v + 6 if i % 3 != 2 else v for i, v in enumerate(k)]
        out.append(dict(image_id=a["image_id"], category_id=a["category_id"], keypoints=k, score=0.9))
    return out


def test_eval_report_of_several_classes(tmp_path):
    """The page of ``mmpx eval --report``: mmpx eval's per-class figures, keypoints named by the union, and the
    gallery's worst case the moved bicycle, drawn with its own points only."""
    from mmpx.evaluation.api import evaluate
    from mmpx.metainfo import load_metainfo
    from mmpx.report.predictions import spec_for
    from mmpx.report.scoring import score

    data = make_dataset(tmp_path / "data", images=6)
    gt_path = data / "annotations" / "train.json"
    gt = json.loads(gt_path.read_text())
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(_results(gt, far=4)))  # annotation 4: the bicycle of image 2
    report = build_eval_report(gt_path, pred, tmp_path / "r.html", metainfo=data / "metainfo.py")
    html = report.path.read_text()
    expected = evaluate(gt_path, pred, metainfo=data / "metainfo.py")
    car, bicycle = expected["classes"]
    assert _cell(html, "car", 0) == f"{car['metrics']['AP']:.4f}" and car["metrics"]["AP"] == 1.0
    assert _cell(html, "bicycle", 0) == f"{bicycle['metrics']['AP']:.4f}" and bicycle["metrics"]["AP"] < 1.0
    assert 'data-key="bicycle/front_wheel"' in html and report.cases > 0
    scored = score(gt_path, _results(gt, far=4), spec_for(load_metainfo(data / "metainfo.py"), gt))
    worst = int(np.argmin(scored.oks))
    assert scored.m.gt_anns[worst]["id"] == 4 and scored.oks[worst] < 1.0
    assert sorted(scored.oks)[1] == pytest.approx(1.0)  # every other instance exact
    drawn = scored.m.matched_pred_xy[worst]
    assert np.isnan(drawn[:4]).all() and np.isfinite(drawn[4:]).all()  # a bicycle: the car block not drawn
    assert scored.result["classes"] == expected["classes"]


def test_run_with_multiclass_predictions_gets_its_gallery(tmp_path):
    from mmpx.metainfo import keypoint_names, load_metainfo
    from mmpx.report import write_predictions

    data = make_dataset(tmp_path / "data", images=6)
    gt = json.loads((data / "annotations" / "train.json").read_text())
    names = keypoint_names(load_metainfo(data / "metainfo.py"))
    run = _run(tmp_path / "run", _metrics(0.9, 0.5))
    write_predictions(run, "val", _results(gt, far=4), dict(
        gt=str(data / "annotations" / "train.json"), images=str(data / "images"), keypoints=names,
        sigmas=[0.05] * len(names), flip_indices=list(range(len(names))), skeleton=[], epoch=1, iter=1,
        metrics=_metrics(0.9, 0.5)))
    report = build_report(run)
    assert not any("predictions left out" in n for n in report.notes) and report.cases > 0
    html = report.path.read_text()
    assert 'id="class-metrics"' in html and 'id="gallery"' in html


def test_groups_of_images_are_no_classes():
    """GroupedCocoMetric's ``coco/<group>/AP`` without ``<group>/PCK``: not a class."""
    assert class_names({"coco/AP": 0.5, "coco/cartoon/AP": 0.4, "coco/real/AP": 0.6, "PCK": 0.7}) == []
