"""``mmpx eval`` with a multi-class metainfo: each class's COCO AP equals xtcocotools' COCOeval run on that category
alone with the class's sigmas (both on single-category copies of the files and with ``params.catIds``), the overall
figures are the means, per-keypoint rows carry union names, and bad inputs are refused with the fix."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from xtcocotools.coco import COCO
from xtcocotools.cocoeval import COCOeval

from mmpx.errors import MmpxError
from mmpx.evaluation.api import evaluate
from mmpx.evaluation.coco import STATS_NAMES
from mmpx.metainfo import load_metainfo
from tests.helpers import mmpx
from tests.mmpx.configs.multiclass_data import CLASSES, make_dataset


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A two-class train.json (5 images: a car and a bicycle each, one extra car), its metainfo, and results:
    cars close to the truth, bicycles farther, a few false positives, one bicycle missed."""
    root = make_dataset(tmp_path_factory.mktemp("street") / "data", images=6)
    gt_path = root / "annotations" / "train.json"
    gt = json.loads(gt_path.read_text())
    rng = np.random.default_rng(3)
    results = []
    for a in gt["annotations"]:
        if a["category_id"] == 2 and a["image_id"] == 2:
            continue  # a missed bicycle
        k = np.asarray(a["keypoints"], float).reshape(-1, 3)
        k[:, :2] += rng.normal(0, 1.0 if a["category_id"] == 1 else 3.0, (len(k), 2))
        k[:, 2] = rng.uniform(0.4, 0.9, len(k))
        results.append(dict(image_id=a["image_id"], category_id=a["category_id"], keypoints=k.ravel().tolist(),
                            score=float(rng.uniform(0.5, 1.0))))
    for image_id, cat, n in ((1, 1, 4), (3, 2, 4)):  # false positives far off
        k = np.column_stack([rng.uniform(0, 128, n), rng.uniform(0, 96, n), np.full(n, 0.5)])
        results.append(dict(image_id=image_id, category_id=cat, keypoints=k.ravel().tolist(), score=0.3))
    pred = root / "results.keypoints.json"
    pred.write_text(json.dumps(results))
    return gt_path, pred, root / "metainfo.py"


def _cocoeval(gt: dict, results: list, sigmas, cat_ids=None) -> list[float]:
    coco = COCO()
    coco.dataset = gt
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
        dt = coco.loadRes([dict(r) for r in results])
        e = COCOeval(coco, dt, "keypoints", np.asarray(sigmas), True)
        e.params.useSegm = None
        if cat_ids is not None:
            e.params.catIds = cat_ids
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(v) for v in e.stats]


def test_per_class_ap_equals_cocoeval_per_category(files):
    gt_path, pred, metainfo = files
    out = evaluate(gt_path, pred, metainfo=metainfo)
    gt, results = json.loads(gt_path.read_text()), json.loads(pred.read_text())
    sigmas = load_metainfo(metainfo)["sigmas"]
    assert [c["name"] for c in out["classes"]] == ["car", "bicycle"]
    start = 0
    for cls, spec in zip(out["classes"], CLASSES, strict=True):
        own = sigmas[start:start + len(spec["keypoints"])]
        start += len(spec["keypoints"])
        alone = dict(gt, categories=[c for c in gt["categories"] if c["id"] == cls["id"]],
                     annotations=[a for a in gt["annotations"] if a["category_id"] == cls["id"]])
        expected = _cocoeval(alone, [r for r in results if r["category_id"] == cls["id"]], own)
        assert [cls["metrics"][n] for n in STATS_NAMES] == expected  # exactly
        # the same as COCOeval on the whole files with params.catIds = [id]
        assert _cocoeval(gt, results, own, [cls["id"]]) == expected
    car, bicycle = out["classes"]
    assert car["metrics"]["AP"] > bicycle["metrics"]["AP"] > 0  # the bicycles are farther off and one is missed
    assert car["annotations"] == 5 and bicycle["predictions"] == 5
    for name in STATS_NAMES:
        assert out["metrics"][name] == pytest.approx((car["metrics"][name] + bicycle["metrics"][name]) / 2)
    assert out["metrics"]["PCK"] == pytest.approx((car["metrics"]["PCK"] + bicycle["metrics"]["PCK"]) / 2)
    names = [r["name"] for r in out["keypoints"]]
    assert names == [f"car/{k}" for k in CLASSES[0]["keypoints"]] + [f"bicycle/{k}" for k in CLASSES[1]["keypoints"]]
    assert ["car/left_front", "car/right_front"] in [p["pair"] for p in out["swaps"]]
    assert all(p["pair"][0].split("/")[0] == p["pair"][1].split("/")[0] for p in out["swaps"])  # within a class
    assert out["matching"]["gt_instances"] == 10 and out["matching"]["unmatched_predictions"] == 2


def test_a_class_without_ground_truth_leaves_the_mean(files, tmp_path):
    gt_path, pred, metainfo = files
    gt = json.loads(gt_path.read_text())
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] == 1]
    only_cars = tmp_path / "cars.json"
    only_cars.write_text(json.dumps(gt))
    cars = tmp_path / "cars.keypoints.json"
    cars.write_text(json.dumps([r for r in json.loads(pred.read_text()) if r["category_id"] == 1]))
    out = evaluate(only_cars, cars, metainfo=metainfo)
    car, bicycle = out["classes"]
    assert bicycle["metrics"]["AP"] == -1.0 and bicycle["predictions"] == 0
    assert out["metrics"]["AP"] == car["metrics"]["AP"]


def test_by_groups_per_class(files):
    gt_path, pred, metainfo = files
    out = evaluate(gt_path, pred, metainfo=metainfo, by="file_name", metrics=["coco"])
    assert set(out["groups"]) == {f"street_{i}.png" for i in range(5)}
    for value, group in out["groups"].items():
        per = [c["groups"][value]["AP"] for c in out["classes"] if c["groups"][value]["AP"] != -1]
        assert group["AP"] == pytest.approx(np.mean(per))


def test_bad_inputs(files, tmp_path):
    gt_path, pred, metainfo = files
    results = json.loads(pred.read_text())
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps([dict(results[0], category_id=7)]))
    with pytest.raises(MmpxError, match=r"category_id 7, not a class of the metainfo \(car \(id 1\), bicycle"):
        evaluate(gt_path, wrong, metainfo=metainfo)
    bicycle_as_car = dict(next(r for r in results if r["category_id"] == 2), category_id=1)
    wrong.write_text(json.dumps([bicycle_as_car, *results[1:]]))  # 4 keypoints both: same count, accepted
    assert evaluate(gt_path, wrong, metainfo=metainfo)["classes"]
    short = dict(results[0], keypoints=results[0]["keypoints"][:9])
    wrong.write_text(json.dumps([short]))
    with pytest.raises(MmpxError, match=r"car results\): result 0 .* has 9 keypoint values, expected 12"):
        evaluate(gt_path, wrong, metainfo=metainfo)
    gt = json.loads(gt_path.read_text())
    gt["annotations"][0]["category_id"] = 5
    bad_gt = tmp_path / "gt.json"
    bad_gt.write_text(json.dumps(gt))
    with pytest.raises(MmpxError, match="annotation 1 has category_id 5, not a class"):
        evaluate(bad_gt, pred, metainfo=metainfo)


def test_one_class_unchanged(tmp_path, files):
    """Without classes in the metainfo, no ``classes`` key: today's result."""
    gt_path, pred, _ = files
    gt = json.loads(gt_path.read_text())
    gt["annotations"] = [a for a in gt["annotations"] if a["category_id"] == 1]
    gt["categories"] = [c for c in gt["categories"] if c["id"] == 1]
    one = tmp_path / "one.json"
    one.write_text(json.dumps(gt))
    res = tmp_path / "one.keypoints.json"
    res.write_text(json.dumps([r for r in json.loads(pred.read_text()) if r["category_id"] == 1]))
    from mmpx.metainfo import build_metainfo, write_metainfo

    write_metainfo(tmp_path / "car.py", build_metainfo("car", CLASSES[0]["keypoints"]))
    out = evaluate(one, res, metainfo=tmp_path / "car.py")
    assert "classes" not in out and out["metrics"]["AP"] > 0


def test_cli_table_and_json(files, tmp_path):
    gt_path, pred, metainfo = files
    result = mmpx("eval", str(gt_path), str(pred), "--metainfo", str(metainfo), "--out", str(tmp_path / "e.json"),
                  "--markdown", str(tmp_path / "e.md"))
    assert result.returncode == 0, result.stderr
    assert "Per class" in result.stdout and "bicycle" in result.stdout
    written = json.loads((tmp_path / "e.json").read_text())
    assert [c["name"] for c in written["classes"]] == ["car", "bicycle"]
    assert "## Per class" in (tmp_path / "e.md").read_text()
