"""``mmpx report`` and ``mmpx eval --report`` on hand-made runs (synthetic cars, predictions with known errors),
checked in a real headless Chromium (skipped when it cannot be installed or started); torch-free.

The full tier's tests/mmpose_ext/engine/test_report_run.py does the same on a run that really trained."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.report import build_report, read_predictions, write_predictions
from mmpx.report.cases import worst_cases
from mmpx.report.predictions import spec_for
from mmpx.report.run_config import read_config, summary
from mmpx.report.scoring import score
from mmpx.testing import carpose_data, run_cli
from tests.report_checks import browser, check_page, lowest_oks  # noqa: F401  (browser: a fixture)

METRICS = {"PCK": 0.8125, "coco/AP": 0.61234567891, "coco/AR": 0.7}


def _predict(gt: dict, noise: float, seed: int, skip: int, swap: int) -> list[dict]:
    """One result per GT instance: the GT plus noise growing with the index, one instance left without a
    prediction (OKS 0: the worst case) and one with its first two keypoints exchanged."""
    rng = np.random.default_rng(seed)
    out = []
    for i, a in enumerate(gt["annotations"]):
        if i == skip:
            continue
        k = np.asarray(a["keypoints"], float).reshape(-1, 3)
        xy = k[:, :2] + rng.normal(0, noise * (1 + i % 4), (len(k), 2))
        if i == swap:
            xy[[0, 1]] = xy[[1, 0]]
        out.append(dict(image_id=a["image_id"], category_id=a["category_id"], score=0.9,
                        keypoints=np.concatenate([xy, np.full((len(k), 1), 0.9)], 1).ravel().tolist()))
    return out


def make_run(root: Path, data: Path, noise: float = 1.0, seed: int = 0, skip: int = 3) -> Path:
    """A run folder as mmpx train leaves it: config copy, scalars.json, predictions/ with their meta."""
    from mmpx.metainfo import load_metainfo

    run = root
    gt = json.loads((data / "annotations" / "val.json").read_text())
    spec = spec_for(load_metainfo(data / "metainfo.py"), gt)
    write_predictions(run, "val", _predict(gt, noise, seed, skip, swap=5),
                      dict(gt=str(data / "annotations" / "val.json"), images=str(data / "images"),
                           keypoints=spec.names, sigmas=spec.sigmas, flip_indices=spec.flip,
                           skeleton=spec.skeleton, epoch=2, iter=20, metrics=METRICS))
    vis = run / "20260101_000000" / "vis_data"
    vis.mkdir(parents=True)
    lines = [dict(loss=0.01 / s, loss_kpt=0.01 / s, lr=1e-3, epoch=(s - 1) // 5 + 1, iter=s, step=s)
             for s in range(1, 11)]
    lines.insert(5, {"PCK": 0.5, "coco/AP": 0.4, "coco/AR": 0.5, "step": 1})
    lines.append({**METRICS, "step": 2})
    (vis / "scalars.json").write_text("".join(json.dumps(line) + "\n" for line in lines))
    (run / "config.py").write_text(
        "model = dict(type='TopdownPoseEstimator', backbone=dict(type='ResNet', depth=18),\n"
        "             head=dict(type='HeatmapHead', decoder=dict(type='MSRAHeatmap', input_size=(96, 96))))\n"
        "train_cfg = dict(max_epochs=2, val_interval=1)\n"
        "optim_wrapper = dict(optimizer=dict(type='Adam', lr=0.002))\n"
        f"train_dataloader = dict(batch_size=8, dataset=dict(type='CarPoseDataset', data_root={str(data) + '/'!r},"
        " ann_file='annotations/train.json'))\n")
    return run


@pytest.fixture(scope="module")
def cars(tmp_path_factory) -> Path:
    data = carpose_data(tmp_path_factory.mktemp("cars"), n=40)
    gt_path = data / "annotations" / "val.json"
    gt = json.loads(gt_path.read_text())
    for img in gt["images"]:  # a field to group by: the gallery's second filter and the per-group table
        img["weather"] = "rain" if img["id"] % 3 == 0 else "sun"
    gt_path.write_text(json.dumps(gt))
    return data


@pytest.fixture(scope="module")
def run_a(cars, tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("run_a"), cars)


def test_report_page_in_chromium(browser, run_a, cars, tmp_path):  # noqa: F811
    out = tmp_path / "report.html"
    result = build_report(run_a, out, by="weather")
    assert result.path == out and result.cases == 8
    p = read_predictions(run_a / "predictions" / "val_results.json")
    found = check_page(browser, out, metrics=METRICS, gt=p.gt, results=p.results, sigmas=p.spec.sigmas,
                       shots=tmp_path)
    assert found["lowest"] == 0.0  # the instance left without a prediction
    html = out.read_text()
    assert 'id="group-filter"' in html and 'data-group="rain"' in html and 'id="swap-table"' in html
    assert "https://" not in html and "http://" not in html  # nothing to fetch
    assert (tmp_path / "report.png").stat().st_size > 10_000  # the screenshot, kept as the test's artifact
    browser.evaluate("(() => { const s = document.getElementById('group-filter'); s.value = 'rain';"
                     " s.dispatchEvent(new Event('change')); })()")
    shown = browser.evaluate("Array.from(document.querySelectorAll('#gallery > li')).filter(l => !l.hidden)"
                             ".map(l => l.dataset.groups)")
    assert shown and all(g == "rain" for g in shown)


def test_compare_shows_deltas_and_changed_cases(browser, cars, run_a, tmp_path):  # noqa: F811
    run_b = make_run(tmp_path / "run_b", cars, noise=0.4, seed=1, skip=6)  # closer, and misses another car
    out = tmp_path / "compare.html"
    build_report(run_b, out, compare=run_a)
    browser.events.clear()
    browser.open(out.as_uri())
    assert browser.errors() == []
    assert browser.evaluate("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    worse = browser.evaluate("Array.from(document.querySelectorAll('#worse > li')).map(l => l.dataset.annId)")
    better = browser.evaluate("Array.from(document.querySelectorAll('#better > li')).map(l => l.dataset.annId)")
    gt = json.loads((cars / "annotations" / "val.json").read_text())["annotations"]
    assert worse[0] == str(gt[6]["id"])  # predicted by A, missed by B: the largest fall
    assert str(gt[3]["id"]) in better  # the other way round
    changes = browser.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('#final-metrics tr'))"
                               ".filter(r => r.dataset.key).map(r => [r.dataset.key, r.cells[3].textContent]))")
    assert set(changes) == set(METRICS) and all(v == "+0.0000" for v in changes.values())  # same logged metrics
    browser.screenshot(tmp_path / "compare.png")


def test_eval_report_for_predictions_from_any_tool(cars, run_a, tmp_path):
    p = read_predictions(run_a / "predictions" / "val_results.json")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps(p.results))
    out = tmp_path / "eval.html"
    res = run_cli("eval", p.gt, pred, "--metainfo", cars / "metainfo.py", "--report", out)
    assert res.exit_code == 0, res.stderr
    assert f"report: {out}" in res.stdout.replace("\n", "")
    html = out.read_text()
    first = re.search(r'<li class="case" data-oks="([^"]+)"[^>]*data-ann-id="([^"]+)"', html)
    low, ids = lowest_oks(p.gt, p.results, p.spec.sigmas)
    assert float(first[1]) == low and first[2] in ids
    assert html.count('src="data:image/jpeg;base64,') == 8  # images/ beside the GT's folder was found


def test_instance_scores_and_the_gallery_selection(cars, run_a):
    p = read_predictions(run_a / "predictions" / "val_results.json")
    scored = score(p.gt, p.results, p.spec)
    low, ids = lowest_oks(p.gt, p.results, p.spec.sigmas)
    assert scored.oks.min() == low and scored.result["matching"]["matched"] == len(p.results)
    chosen = worst_cases(scored, limit=2, per_filter=1)
    assert [c.top for c in chosen[:2]] == [True, True] and not any(c.top for c in chosen[2:])
    assert [c.oks for c in chosen] == sorted(c.oks for c in chosen)
    worst_of = {p.spec.names[k] for k in scored.worst if k >= 0}
    assert worst_of <= {c.worst for c in chosen}  # every keypoint filter finds at least its own worst


def test_changed_cases_go_the_way_they_are_listed(cars, run_a, tmp_path):
    from mmpx.report.cases import changed_cases

    a = read_predictions(run_a / "predictions" / "val_results.json")
    b = read_predictions(make_run(tmp_path / "b", cars, noise=0.4, seed=1, skip=6) / "predictions" / "val_results.json")
    old, new = (score(p.gt, p.results, p.spec) for p in (a, b))
    assert changed_cases(old, old) == ([], [])  # a run against itself: nothing changed
    worse, better = changed_cases(new, old)
    assert worse and better
    assert all(c.oks <= c.other_oks - 0.01 for c in worse) and all(c.oks >= c.other_oks + 0.01 for c in better)
    assert [c.oks - c.other_oks for c in worse] == sorted(c.oks - c.other_oks for c in worse)


def test_a_run_without_predictions_still_gets_a_page(cars, tmp_path):
    run = make_run(tmp_path / "run", cars)
    for f in (run / "predictions").iterdir():
        f.unlink()
    result = build_report(run)
    html = result.path.read_text()
    assert result.path == run / "report.html" and result.cases == 0
    assert "no predictions in this run folder" in html and 'id="gallery"' not in html
    assert html.count('src="data:image/png;base64,') == 2  # loss and validation curves, drawn from scalars.json
    assert 'data-key="coco/AP"' in html  # the last validation's metrics


def test_predictions_whose_ground_truth_moved_are_left_out_with_a_note(cars, tmp_path):
    run = make_run(tmp_path / "run", cars)
    meta = run / "predictions" / "val_results.meta.json"
    meta.write_text(meta.read_text().replace(str(cars / "annotations" / "val.json"), str(tmp_path / "gone.json")))
    result = build_report(run)
    assert result.cases == 0 and any("predictions left out" in n and "gone.json" in n for n in result.notes)
    assert "predictions left out" in result.path.read_text()


def test_config_summary_reads_literals_only(tmp_path):
    cfg = tmp_path / "c.py"
    cfg.write_text("model = dict(type='M', backbone=dict(type='B', depth=-18), head=dict(decoder=dict(input_size="
                   "(96, 96))))\nlr = some_function()\ntrain_cfg = dict(max_epochs=3)\n")
    values = read_config(cfg)
    assert values["lr"] is None and values["model"]["backbone"]["depth"] == -18
    assert dict(summary(values)) == {"model": "M", "backbone": "B -18", "input size": "96 x 96", "epochs": "3"}
    cfg.write_text("model = dict(\n")
    assert read_config(cfg) == {}


def test_errors_name_the_file(cars, run_a, tmp_path):
    with pytest.raises(MmpxError, match="holds no run"):
        build_report(tmp_path)
    results = tmp_path / "predictions" / "val_results.json"
    results.parent.mkdir()
    results.write_text("[]")
    with pytest.raises(MmpxError, match=r"val_results.meta.json does not exist"):
        read_predictions(results)
    res = run_cli("report", tmp_path / "nothing")
    assert res.exit_code == 1 and "is not a folder" in res.stderr
    res = run_cli("report", run_a, "--out", run_a / "predictions")  # a folder where the page should go
    assert res.exit_code == 1 and "is a folder" in res.stderr
