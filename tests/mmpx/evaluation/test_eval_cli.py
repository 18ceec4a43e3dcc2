"""``mmpx eval``: tables, the --out JSON schema, user errors, and no torch at import."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from mmpx.errors import MmpxError
from mmpx.evaluation.coco import STATS_NAMES

OUT_KEYS = {"gt", "pred", "schema", "num_images", "num_predictions", "metrics", "matching", "pck", "keypoints",
            "swaps", "by", "groups"}
METRIC_KEYS = [*STATS_NAMES, "PCK", "EPE", "OKS AP (mean per keypoint)", "swap rate"]


@pytest.fixture(scope="module")
def app():
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return build_app(load_plugins())


@pytest.fixture()
def files(shared_data, tmp_path):
    gt_file = shared_data / "mmpose-testdata/humanart/test_humanart.json"
    gt = json.loads(gt_file.read_text())
    rng = np.random.default_rng(0)
    preds = []
    for ann in gt["annotations"]:
        k = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
        k[:, :2] += rng.normal(0, 2, (len(k), 2))
        k[:, 2] = 0.9
        preds.append(dict(image_id=ann["image_id"], category_id=1, keypoints=k.ravel().tolist(), score=0.8))
    pred_file = tmp_path / "pred.json"
    pred_file.write_text(json.dumps(preds))
    return gt_file, pred_file, preds


def invoke(app, *args):
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, ["eval", *map(str, args)])


def test_eval_writes_the_documented_json(app, files, tmp_path):
    from mmpx.evaluation.api import evaluate

    gt_file, pred_file, _ = files
    out, md = tmp_path / "r.json", tmp_path / "r.md"
    result = invoke(app, gt_file, pred_file, "--by", "scenario", "--out", out, "--markdown", md)
    assert result.exit_code == 0, result.output
    assert "Per keypoint" in result.output and "digital_art" in result.output
    data = json.loads(out.read_text())
    assert set(data) == OUT_KEYS and data["schema"] == "mmpx-eval/1" and data["by"] == "scenario"
    assert list(data["metrics"]) == METRIC_KEYS
    assert set(data["groups"]) == {"acrobatics", "digital_art", "garage_kits"}
    for stats in data["groups"].values():
        assert list(stats) == [*STATS_NAMES, "num_images"]
    assert set(data["keypoints"][0]) == {"name", "count", "PCK", "EPE", "OKS AP"}
    assert set(data["swaps"][0]) == {"pair", "swapped", "swapped_pairs", "total", "rate"}
    assert data == json.loads(json.dumps(evaluate(gt_file, pred_file, by="scenario")))
    assert "## Per scenario" in md.read_text()


def test_eval_metrics_and_pck_options(app, files, tmp_path):
    gt_file, pred_file, _ = files
    out = tmp_path / "r.json"
    result = invoke(app, gt_file, pred_file, "--metrics", "coco", "--out", out)
    assert result.exit_code == 0, result.output
    assert list(json.loads(out.read_text())["metrics"]) == list(STATS_NAMES)
    result = invoke(app, gt_file, pred_file, "--metrics", "pck", "--pck-thr", "0.2", "--pck-norm", "torso",
                    "--out", out)
    assert json.loads(out.read_text())["pck"] == dict(thr=0.2, norm="torso")


EDITS = {
    "nan": lambda preds: [p.update(keypoints=[float("nan")] * len(p["keypoints"])) for p in preds],
    "no_score": lambda preds: preds[1].pop("score"),
    "no_category": lambda preds: preds[1].pop("category_id"),
    "string_score": lambda preds: preds[2].update(score="0.8"),
    "string_keypoint": lambda preds: preds[1]["keypoints"].__setitem__(3, "5"),
    "category": lambda preds: preds[0].update(category_id=7),
}


@pytest.mark.parametrize("case, message", [
    ("missing", "prediction file"),
    ("unknown_image", "not in the ground truth: 999"),
    ("keypoint_count", "expected 63 (21 keypoints x 3)"),
    ("by", "no image has the field 'nope'"),
    ("metric", "unknown metric(s) bogus"),
    ("norm", "--pck-norm 'knee'"),
    # before: EPE 0.0 and AP 0.0 reported for NaN predictions; KeyError/TypeError for the others
    ("nan", "result 0 (image 2000000001648): keypoints: value 0 is nan (3 more bad result(s))"),
    ("no_score", "result 1 lacks score"),
    ("no_category", "result 1 lacks category_id"),
    ("string_score", "result 2 (image 15000000000590): score is '0.8'"),
    ("string_keypoint", "result 1 (image 12000000005603): keypoints: value 3 is '5' (a string)"),
    ("category", "result 0 (image 2000000001648) has category_id 7"),
])
def test_eval_bad_inputs(app, files, tmp_path, case, message):
    gt_file, pred_file, preds = files
    args = [gt_file, pred_file]
    if case == "missing":
        args = [gt_file, tmp_path / "nope.json"]
    elif case == "unknown_image":
        pred_file.write_text(json.dumps([*preds, dict(preds[0], image_id=999)]))
    elif case == "keypoint_count":
        mmpose = pytest.importorskip("mmpose")  # its 21-keypoint metainfo file
        meta = f"{mmpose.__path__[0]}/.mim/configs/_base_/datasets/humanart21.py"
        args += ["--metainfo", meta]
    elif case in EDITS:
        EDITS[case](preds)
        pred_file.write_text(json.dumps(preds))
    elif case == "by":
        args += ["--by", "nope"]
    elif case == "metric":
        args += ["--metrics", "coco,bogus"]
    else:
        args += ["--pck-norm", "knee"]
    result = invoke(app, *args)
    assert isinstance(result.exception, MmpxError), result.output
    assert message in str(result.exception)


def test_eval_imports_no_torch(files):
    gt_file, pred_file, _ = files
    code = ("import sys\nfrom mmpx.cli.main import main\ntry:\n    main(['eval', sys.argv[1], sys.argv[2]])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print('HEAVY', sorted(m for m in ('torch', 'mmengine', 'mmpose', 'mmpose_ext') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code, str(gt_file), str(pred_file)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


@pytest.mark.stack
def test_mmpx_eval_reproduces_a_real_run(tmp_path, tiny_coco):
    """Train a tiny model, test it with the two metrics writing their results, then `mmpx eval` the file."""
    import json as _json

    from tests.helpers import mmpx, write_tiny_config

    gt = _json.loads((tiny_coco / "annotations.json").read_text())
    for img in gt["images"]:
        img["half"] = "a" if img["id"] % 2 else "b"
    ann = tmp_path / "ann.json"
    ann.write_text(_json.dumps(gt))
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=1)
    work = tmp_path / "work"
    assert mmpx("train", str(config), "--work-dir", str(work)).returncode == 0
    prefix = tmp_path / "run"
    with config.open("a") as f:
        f.write(f"test_evaluator = [dict(type='GroupedCocoMetric', ann_file='{ann}', group_by='half', "
                f"outfile_prefix='{prefix}'), dict(type='KeypointBreakdownMetric', ann_file='{ann}')]\n")
    result = mmpx("test", str(config), str(work / "epoch_1.pth"), "--work-dir", str(work), "--out",
                  str(tmp_path / "run.json"))
    assert result.returncode == 0, result.stderr[-3000:]
    run = _json.loads((tmp_path / "run.json").read_text())

    result = mmpx("eval", str(ann), f"{prefix}.keypoints.json", "--by", "half", "--out", str(tmp_path / "e.json"))
    assert result.returncode == 0, result.stderr[-3000:]
    offline = _json.loads((tmp_path / "e.json").read_text())
    for name in ("AP", "AP .5", "AR"):
        assert offline["metrics"][name] == pytest.approx(run[f"coco/{name}"], abs=1e-9)
        for group in ("a", "b"):
            assert offline["groups"][group][name] == pytest.approx(run[f"coco/{group}/{name}"], abs=1e-9)
    assert offline["metrics"]["EPE"] > 0  # an untrained model: real, non-trivial numbers
    assert offline["metrics"]["EPE"] == pytest.approx(run["kpt/EPE"], rel=1e-6)
    assert offline["metrics"]["PCK"] == pytest.approx(run["kpt/PCK"], abs=1e-9)
