"""A run that really trains writes its predictions and report.html (``ReportHook``), ``mmpx test`` too, and
``mmpx report`` makes a page that a real headless Chromium shows as it should (tests/report_checks.py)."""

from __future__ import annotations

import json

import pytest

from mmpx.app.quickstart import write_config
from mmpx.report import read_predictions
from mmpx.testing import carpose_data, run_cli, train_briefly
from tests.report_checks import browser, check_page  # noqa: F401  (browser: a fixture)

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Synthetic cars, the quickstart's model trained for 2 iterations with one validation, then mmpx test."""
    root = tmp_path_factory.mktemp("report_run")
    data = carpose_data(root / "cars", n=30)
    config = write_config(root, data, epochs=1)
    run = root / "run"
    env = {"OMP_NUM_THREADS": "1"}
    checkpoint = train_briefly(config, run, samples=4, validate=True, env=env,
                               cfg_options=["val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False"])
    assert (run / "predictions" / "val_results.json").is_file() and (run / "report.html").is_file()
    logged = "".join(p.read_text() for p in run.glob("*/*.log"))
    assert f"ReportHook: wrote {run / 'report.html'}" in logged
    tested = run_cli("test", config, checkpoint, "--work-dir", run, "--out", run / "metrics.json",
                     "--cfg-options", "test_dataloader.num_workers=0", "test_dataloader.persistent_workers=False",
                     env=env)
    assert tested.exit_code == 0, tested.stderr[-3000:]
    return root, run, data, tested


def test_train_keeps_the_validation_predictions(trained):
    _, run, data, _ = trained
    val = read_predictions(run / "predictions" / "val_results.json")
    gt = json.loads((data / "annotations" / "val.json").read_text())
    assert val.split == "val" and val.epoch == 1 and len(val.results) == len(gt["annotations"])
    assert val.gt == data / "annotations" / "val.json" and val.images == data / "images"
    assert val.spec.names[0] == "left_front_bumper" and len(val.spec.skeleton) > 0
    scalars = [json.loads(line) for p in run.glob("*/vis_data/scalars.json") for line in p.read_text().splitlines()]
    logged = [line for line in scalars if "PCK" in line][-1]
    assert "PCK" in val.metrics and val.metrics == pytest.approx({k: logged[k] for k in val.metrics})


def test_mmpx_test_writes_its_predictions_and_prints_the_report(trained):
    _, run, _, tested = trained
    assert f"report: {run / 'report.html'}" in tested.stderr.replace("\n", "")
    json.loads(tested.stdout[tested.stdout.index("{\n"):])  # stdout still ends with the metrics JSON
    test = read_predictions(run / "predictions" / "test_results.json")
    assert test.split == "test" and test.checkpoint.endswith(".pth")
    assert test.metrics == pytest.approx(json.loads((run / "metrics.json").read_text()))


def test_report_of_a_trained_run_in_chromium(browser, trained, tmp_path):  # noqa: F811
    _, run, _, _ = trained
    out = tmp_path / "report.html"
    res = run_cli("report", run, "--out", out)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"report: {out}")
    test = read_predictions(run / "predictions" / "test_results.json")  # the newest: mmpx test's
    metrics = json.loads((run / "metrics.json").read_text())
    check_page(browser, out, metrics=metrics, gt=test.gt, results=test.results, sigmas=test.spec.sigmas,
               shots=tmp_path)
    html = out.read_text()
    assert "mmpx test of epoch_1.pth" in html and "TopdownPoseEstimator" in html
