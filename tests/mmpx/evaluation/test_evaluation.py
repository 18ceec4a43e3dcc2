"""Parity of mmpx.evaluation and the metric classes with xtcocotools' COCOeval and MMPose's PCKAccuracy."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest

from mmpx.evaluation.api import evaluate
from mmpx.evaluation.coco import STATS_NAMES

SWAP = (5, 6)  # left/right shoulder: the pair the predictions swap
DROPPED = 0  # nose: no swap partner, so a dropped nose can never look like a swap


def perturb(gt: dict, seed: int = 0, swap_every: int = 3) -> tuple[list[dict], int]:
    """One prediction per GT instance: noise, shoulders swapped in every 3rd, the nose dropped in every 4th.

    Returns the predictions and how many shoulder swaps were injected.
    """
    rng = np.random.default_rng(seed)
    results, swapped = [], 0
    for i, ann in enumerate(gt["annotations"]):
        k = np.asarray(ann["keypoints"], dtype=float).reshape(-1, 3)
        xy = k[:, :2] + rng.normal(0, 0.5, (len(k), 2))  # small: COCO eyes can be 4 px apart
        if i % swap_every == 0 and k[SWAP[0], 2] > 0 and k[SWAP[1], 2] > 0:
            xy[list(SWAP)] = xy[list(SWAP[::-1])]
            swapped += 1
        scores = rng.uniform(0.5, 1.0, len(k))
        if i % 4 == 1:
            xy[DROPPED], scores[DROPPED] = 0.0, 0.0
        kpts = np.concatenate([xy, scores[:, None]], 1).astype(np.float32)
        results.append(dict(image_id=ann["image_id"], category_id=1, keypoints=kpts.ravel().tolist(),
                            score=float(rng.uniform(0.3, 1.0)), _ann=ann))
    return results, swapped


def dump(results: list[dict], path: Path) -> Path:
    path.write_text(json.dumps([{k: v for k, v in r.items() if k != "_ann"} for r in results]))
    return path


def cocoeval_stats(gt_file: Path, results: list[dict], img_ids=None) -> list[float]:
    """A fresh xtcocotools COCOeval, configured as MMPose's CocoMetric, optionally on some images only."""
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    from mmpx.evaluation.api import COCO_SIGMAS

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(gt_file))
        dets = coco.loadRes([{k: v for k, v in r.items() if k != "_ann"} for r in results])
        ev = COCOeval(coco, dets, "keypoints", np.array(COCO_SIGMAS), True)
        ev.params.useSegm = None
        if img_ids is not None:
            ev.params.imgIds = list(img_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return list(ev.stats)


@pytest.fixture(scope="module")
def coco_case(shared_data, tmp_path_factory):
    """COCO test file with an extra image field `half` (two groups of two images), and perturbed predictions."""
    gt = json.loads((shared_data / "mmpose-testdata/coco/test_coco.json").read_text())
    for i, img in enumerate(sorted(gt["images"], key=lambda im: im["id"])):
        img["half"] = "first" if i < 2 else "second"
    root = tmp_path_factory.mktemp("coco_eval")
    gt_file = root / "gt.json"
    gt_file.write_text(json.dumps(gt))
    results, swapped = perturb(gt)
    return gt, gt_file, results, dump(results, root / "pred.json"), swapped


def test_overall_and_group_ap_equal_cocoeval(coco_case):
    gt, gt_file, results, pred_file, _ = coco_case
    out = evaluate(gt_file, pred_file, by="half", metrics=["coco"])
    assert list(out["metrics"]) == list(STATS_NAMES)
    np.testing.assert_allclose(list(out["metrics"].values()), cocoeval_stats(gt_file, results), atol=1e-6)
    assert sorted(out["groups"]) == ["first", "second"]
    for value, stats in out["groups"].items():
        ids = [img["id"] for img in gt["images"] if img["half"] == value]
        expected = cocoeval_stats(gt_file, results, ids)
        np.testing.assert_allclose([stats[n] for n in STATS_NAMES], expected, atol=1e-6)
        assert stats["num_images"] == len(ids)


def test_humanart_groups_by_scenario_and_group_equal_cocoeval(shared_data, tmp_path):
    gt_file = shared_data / "mmpose-testdata/humanart/test_humanart.json"
    gt = json.loads(gt_file.read_text())
    results, _ = perturb(gt, seed=1)
    out = evaluate(gt_file, dump(results, tmp_path / "pred.json"), by=["category", "group"], metrics=["coco"])
    np.testing.assert_allclose(list(out["metrics"].values()), cocoeval_stats(gt_file, results), atol=1e-6)
    cats = {img["category"]: img["id"] for img in gt["images"]}
    assert set(out["groups"]) == set(cats) | {"real_human", "2D_virtual_human", "3D_virtual_human"}
    for value, stats in out["groups"].items():
        img_id = cats.get(value) or next(i["id"] for i in gt["images"] if f"/{value}/" in i["file_name"])
        np.testing.assert_allclose([stats[n] for n in STATS_NAMES], cocoeval_stats(gt_file, results, [img_id]),
                                   atol=1e-6)


def _pck_samples(results: list[dict], images: dict) -> list[dict]:
    """Data samples as MMPose's top-down pipeline gives PCKAccuracy (bbox clipped to the image, float32)."""
    samples = []
    for r in results:
        ann, img = r["_ann"], images[r["_ann"]["image_id"]]
        gk = np.asarray(ann["keypoints"], dtype=np.float32).reshape(1, -1, 3)
        x, y, w, h = ann["bbox"]
        bbox = np.array([np.clip(x, 0, img["width"] - 1), np.clip(y, 0, img["height"] - 1),
                         np.clip(x + w, 0, img["width"] - 1), np.clip(y + h, 0, img["height"] - 1)],
                        dtype=np.float32).reshape(1, 4)
        pk = np.asarray(r["keypoints"], dtype=float).reshape(1, -1, 3)
        samples.append(dict(gt_instances=dict(keypoints=gk[..., :2], keypoints_visible=np.minimum(1, gk[..., 2]),
                                              bboxes=bbox),
                            pred_instances=dict(keypoints=pk[..., :2])))
    return samples


@pytest.mark.stack
@pytest.mark.parametrize("thr", [0.05, 0.2])
def test_mean_pck_equals_mmpose_pckaccuracy(coco_case, thr):
    from mmpose.evaluation.metrics import PCKAccuracy

    gt, gt_file, results, pred_file, _ = coco_case
    metric = PCKAccuracy(thr=thr, norm_item=["bbox", "torso"])
    with pytest.warns(UserWarning):  # MMPose warns about the zero-keypoint instances' torso
        metric.process([], _pck_samples(results, {img["id"]: img for img in gt["images"]}))
    expected = metric.compute_metrics(metric.results)
    for norm, key in (("bbox", "PCK"), ("torso", "tPCK")):
        out = evaluate(gt_file, pred_file, metrics=["pck"], pck_thr=thr, pck_norm=norm)
        assert out["metrics"]["PCK"] == pytest.approx(expected[key], abs=1e-12)


def test_swap_rate_counts_the_injected_swaps(coco_case):
    _, gt_file, _, pred_file, swapped = coco_case
    assert swapped > 0
    out = evaluate(gt_file, pred_file, metrics=["swap"])
    pairs = {tuple(p["pair"]): p for p in out["swaps"]}
    shoulders = pairs["left_shoulder", "right_shoulder"]
    assert (shoulders["swapped_pairs"], shoulders["swapped"]) == (swapped, 2 * swapped)
    assert sum(p["swapped"] for p in out["swaps"]) == 2 * swapped
    total = sum(p["total"] for p in out["swaps"])
    assert out["metrics"]["swap rate"] == pytest.approx(2 * swapped / total)


def test_per_keypoint_definitions_on_exact_predictions(coco_case, tmp_path):
    gt, gt_file, _, _, _ = coco_case
    exact = [dict(image_id=a["image_id"], category_id=1, score=1.0, keypoints=[
        float(v) if i % 3 != 2 else 1.0 for i, v in enumerate(a["keypoints"])]) for a in gt["annotations"]
             if a["num_keypoints"] > 0]
    out = evaluate(gt_file, dump(exact, tmp_path / "p.json"))
    assert out["metrics"]["PCK"] == 1.0 and out["metrics"]["EPE"] == 0.0
    assert out["metrics"]["OKS AP (mean per keypoint)"] == pytest.approx(1.0)
    assert out["metrics"]["swap rate"] == 0.0
    assert out["matching"] == dict(gt_instances=len(exact), matched=len(exact), unmatched_predictions=0)
    # one instance's prediction missing: its labelled keypoints are PCK misses
    out = evaluate(gt_file, dump(exact[1:], tmp_path / "q.json"), metrics=["pck", "epe"])
    assert out["matching"]["matched"] == len(exact) - 1
    assert out["metrics"]["PCK"] < 1.0 and out["metrics"]["EPE"] == 0.0


def test_per_keypoint_oks_ap_ignores_what_cocoeval_ignores(coco_case, tmp_path):
    """Results for every GT (as a tool dumping GT writes them) and a prediction on an instance COCOeval ignores
    (no labelled keypoints) leave OKS AP at 1.0, as COCO AP; a stray prediction lowers both."""
    gt, gt_file, _, _, _ = coco_case
    every = [dict(image_id=a["image_id"], category_id=1, score=1.0, keypoints=a["keypoints"])
             for a in gt["annotations"]]
    empty = next(a for a in gt["annotations"] if a["num_keypoints"] == 0)
    x, y, w, h = empty["bbox"]
    on_ignored = dict(image_id=empty["image_id"], category_id=1, score=1.0,
                      keypoints=[x + w / 2, y + h / 2, 1.0] * 17)
    out = evaluate(gt_file, dump([*every, on_ignored], tmp_path / "p.json"), metrics=["coco", "oks_per_keypoint"])
    assert out["metrics"]["AP"] == pytest.approx(1.0)
    assert out["metrics"]["OKS AP (mean per keypoint)"] == pytest.approx(1.0)

    far = dict(on_ignored, keypoints=[5000.0, 5000.0, 1.0] * 17, score=2.0)  # ranked first, matches nothing
    out = evaluate(gt_file, dump([*every, far], tmp_path / "q.json"), metrics=["coco", "oks_per_keypoint"])
    assert out["metrics"]["AP"] < 1.0 and out["metrics"]["OKS AP (mean per keypoint)"] < 1.0


def _coco_samples(results: list[dict], images: dict) -> list[dict]:
    """Data samples as a top-down run gives CocoMetric: one prediction per GT instance."""
    samples = []
    for r in results:
        k = np.asarray(r["keypoints"], dtype=np.float32).reshape(1, -1, 3)
        img = images[r["image_id"]]
        samples.append(dict(id=r["_ann"]["id"], img_id=r["image_id"], category_id=1,
                            img_path=img["file_name"], ori_shape=(img["height"], img["width"]),
                            pred_instances=dict(keypoints=k[..., :2], keypoint_scores=k[..., 2]),
                            gt_instances=dict(bbox_scores=np.array([r["score"]], dtype=np.float32))))
    return samples


@pytest.mark.stack
@pytest.mark.parametrize("dataset", ["coco", "humanart"])
def test_metric_classes_equal_mmpx_eval_on_the_dumped_file(shared_data, tmp_path, dataset):
    from mmengine.fileio import load  # noqa: F401  (mmengine before mmpose_ext, as in a run)
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    import mmpose_ext  # noqa: F401  (registers the metrics)
    from mmpose_ext.registry import METRICS

    gt_file = shared_data / f"mmpose-testdata/{dataset}/test_{dataset}.json"
    gt = json.loads(gt_file.read_text())
    results, _ = perturb(gt, seed=2)
    samples = _coco_samples(results, {img["id"]: img for img in gt["images"]})
    import mmpose

    meta = parse_pose_metainfo(dict(from_file=f"{Path(mmpose.__file__).parent}/.mim/configs/_base_/datasets/coco.py"))
    by = ["category", "group"] if dataset == "humanart" else "id"
    grouped = METRICS.build(dict(type="GroupedCocoMetric", ann_file=str(gt_file), group_by=by,
                                 outfile_prefix=str(tmp_path / "run")))
    breakdown = METRICS.build(dict(type="KeypointBreakdownMetric", ann_file=str(gt_file),
                                   outfile_prefix=str(tmp_path / "kpt")))
    got = {}
    for metric in (grouped, breakdown):
        metric.dataset_meta = meta
        metric.process([], samples)
        got.update(metric.evaluate(len(samples)))
    # without outfile_prefix KeypointBreakdownMetric takes its vectorised path: the very same numbers
    fast = METRICS.build(dict(type="KeypointBreakdownMetric", ann_file=str(gt_file)))
    fast.dataset_meta = meta
    fast.process([], samples)
    assert fast.evaluate(len(samples)) == {k: v for k, v in got.items() if k.startswith("kpt/")}
    offline = evaluate(gt_file, tmp_path / "run.keypoints.json", by=by)
    for name in STATS_NAMES:
        assert got[f"coco/{name}"] == offline["metrics"][name]
    for value, stats in offline["groups"].items():
        for name in STATS_NAMES:
            assert got[f"coco/{value}/{name}"] == stats[name]
    kpt_offline = evaluate(gt_file, tmp_path / "kpt.keypoints.json")
    for key, name in (("PCK", "PCK"), ("EPE", "EPE"), ("OKS AP", "OKS AP (mean per keypoint)"),
                      ("swap rate", "swap rate")):
        assert got[f"kpt/{key}"] == kpt_offline["metrics"][name] == offline["metrics"][name]
    for row in offline["keypoints"]:
        if row["PCK"] is not None:
            assert got[f"kpt/PCK/{row['name']}"] == row["PCK"]
