"""A one-stage RTMO through ``mmpx infer``, the Python API and ``mmpx suggest``: no detector option, the model's
own boxes and scores with every instance, on ONNX Runtime (no torch imported) and on torch, which agree.

The model is the RTMO-t of the export tests (``mmpx configs new --model rtmo-t`` on synthetic multi-car scenes at
a 160 x 160 input, random weights calibrated so that a few instances of each image pass the score threshold),
exported with ``mmpx export onnx``. Inputs: two of the scenes and a short synthetic traffic clip.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import mmpose_ext  # noqa: F401  (compatibility fixes before any mmpose import below)
from mmpx.errors import MmpxError
from tests.mmpose_ext.deploy.test_rtmo_export import calibrated_model, iou, pair_up, scenes
from tests.mmpx.configs.one_stage_data import make_rtmo_config

pytestmark = pytest.mark.stack  # the torch model, the export


def _app():
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    return build_app(load_plugins(distributions=[], env={}))


@pytest.fixture(scope="module")
def rtmo(tmp_path_factory):
    import torch

    from mmpx.synth.traffic import traffic_clip, write_video

    tmp = tmp_path_factory.mktemp("rtmo_infer")
    config, data = make_rtmo_config(tmp, check=False)
    images = scenes(data)
    model = calibrated_model(config, images)
    ckpt = tmp / "rtmo.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
    onnx_path = tmp / "rtmo.onnx"
    done = CliRunner().invoke(_app(), ["export", "onnx", str(config), str(ckpt), "--out", str(onnx_path)])
    assert done.exit_code == 0, (done.output, done.exception)
    inputs = tmp / "inputs"
    inputs.mkdir()
    for i, image in enumerate(images[:2]):
        cv2.imwrite(str(inputs / f"scene{i}.png"), image)
    video = tmp / "traffic.avi"
    write_video(traffic_clip(frames=6, cars=3, width=192, height=144), video)
    return dict(config=config, ckpt=ckpt, onnx=onnx_path, inputs=inputs, video=video, tmp=tmp)


def test_onnx_infer_needs_no_detector_and_no_torch(rtmo, tmp_path):
    """Images and a tracked video: records with the model's boxes, a trajectory table, pre-labels that ``mmpx
    convert labelme`` reads back, drawings (and a SLEAP file where sleap-io is installed); nothing of torch
    imported. ``--bbox-thr`` (the score threshold) is lowered so that every frame has instances to track."""
    import importlib.util

    out = tmp_path / "out"
    slp = ["--save-as", str(out / "p.slp")] if importlib.util.find_spec("sleap_io") else []
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mmpx", "infer", str(rtmo["inputs"]),
                           str(rtmo["video"]), "--backend", "onnxruntime", "--weights", str(rtmo["onnx"]), "--track",
                           "--save-json", str(out / "r.json"), "--save-csv", str(out / "t.csv"), "--save-labelme",
                           str(out / "labelme"), "--out-dir", str(out / "drawn"), "--bbox-thr", "0.03", *slp,
                           "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert not imported & {"torch", "mmengine", "mmcv", "mmpose", "mmdet", "mmpose_ext"}, imported
    assert "boxes: one-stage model" in done.stderr, done.stderr[-2000:]
    records = json.loads((out / "r.json").read_text())
    names = {r["file_name"].split("#")[0] for r in records}
    assert {"scene0.png", "scene1.png", "traffic.avi"} <= names, names
    assert all(len(r["keypoints"]) == 3 * 8 and r["bbox"][2] > 0 and 0 < r["bbox_score"] <= 1 and "track_id" in r
               for r in records)
    frames = [r for r in records if "#frame=" in r["file_name"]]
    assert len({r["file_name"] for r in frames}) == 6  # instances in every frame
    seen = {}
    for r in frames:
        seen.setdefault(r["track_id"], set()).add(r["file_name"])
    assert max(len(v) for v in seen.values()) >= 3, seen  # tracks over frames, from the model's boxes
    assert not slp or (out / "p.slp").is_file()
    rows = (out / "t.csv").read_text().splitlines()
    assert len(rows) > 1 and "track_id" in rows[0]
    assert sorted(p.name for p in (out / "drawn").iterdir()) == ["scene0.png", "scene1.png", "traffic.mp4"]
    labelme = sorted((out / "labelme").rglob("*.json"))
    assert len(labelme) == 2 + 6, [p.name for p in labelme]  # every image and frame
    from mmpx.convert.labelme import convert_labelme

    spec_meta = Path(mmpose_ext.__file__).parent / "datasets" / "metainfo" / "carpose.py"
    convert_labelme(out / "labelme", tmp_path / "back", metainfo=spec_meta, category="object", workers=0,
                    val_ratio=0.0)
    coco = json.loads((tmp_path / "back" / "annotations" / "train.json").read_text())
    assert len(coco["annotations"]) == len(records)  # each instance's rectangle and points read back


def test_torch_and_onnx_agree(rtmo):
    """``PoseEstimator`` on the config + checkpoint and on the export: the same instances (boxes IoU >= 0.99,
    keypoints within 0.5 px), boxes and scores in every result, no detector."""
    from mmpx.api import PoseEstimator

    on_torch = PoseEstimator(str(rtmo["config"]), rtmo["ckpt"])
    on_onnx = PoseEstimator(rtmo["onnx"])
    found = 0
    for path in sorted(rtmo["inputs"].iterdir()):
        ref, got = on_torch(path), on_onnx(path)
        assert len(got) == len(ref) and len(got.bboxes) == len(got.bbox_scores) == len(got)
        found += len(got)
        if not len(got):
            continue
        match = pair_up(got.keypoints, ref.keypoints)
        overlap = iou(got.bboxes, ref.bboxes)[np.arange(len(got)), match]
        gap = np.abs(got.bboxes - ref.bboxes[match]).max(-1)
        assert np.all((overlap >= 0.99) | (gap <= 0.05)), overlap
        np.testing.assert_allclose(got.keypoints, ref.keypoints[match], atol=0.5)
        np.testing.assert_allclose(got.bbox_scores, ref.bbox_scores[match], atol=1e-3)
        assert np.all(np.diff(got.bbox_scores) <= 0)
    assert found >= 2
    strict = PoseEstimator(rtmo["onnx"], bbox_thr=0.9)  # the score threshold filters the instances
    assert all(np.all(r.bbox_scores > 0.9) for r in strict.run(rtmo["inputs"]))
    loose = PoseEstimator(rtmo["onnx"], bbox_thr=0.001, nms_thr=1.0)  # every kept anchor passes, none merged
    result = loose(next(rtmo["inputs"].iterdir()))
    assert len(result) == 100 and loose.boxes.truncated == 1  # the export's top_k: mmpx infer warns
    tracked = list(on_onnx.run(rtmo["video"], track=True))
    assert len(tracked) == 6 and all(r.track_ids is not None for r in tracked)


def test_torch_cli_matches_onnx_cli(rtmo, tmp_path):
    runner = CliRunner()
    for name, model in (("torch", ["--pose", str(rtmo["config"]), "--weights", str(rtmo["ckpt"])]),
                        ("onnx", ["--backend", "onnxruntime", "--weights", str(rtmo["onnx"])])):
        done = runner.invoke(_app(), ["infer", str(rtmo["inputs"]), *model, "--save-json",
                                      str(tmp_path / f"{name}.json"), "--no-progress"])
        assert done.exit_code == 0, (done.output, done.exception)
    refused = runner.invoke(_app(), ["infer", str(rtmo["inputs"]), "--pose", str(rtmo["config"]), "--whole-image",
                                     "--save-json", str(tmp_path / "no.json")])
    assert "--whole-image given with a one-stage model" in str(refused.exception), refused.output
    a, b = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("torch", "onnx"))
    assert len(a) == len(b) >= 2
    assert sorted(r["file_name"] for r in a) == sorted(r["file_name"] for r in b)


def test_suggest_scores_one_stage_instances(rtmo, tmp_path):
    """``mmpx suggest`` with no detector option: the model's instances on each candidate and its mirror image."""
    done = CliRunner().invoke(_app(), ["suggest", str(rtmo["inputs"]), str(rtmo["video"]), "--out",
                                       str(tmp_path / "next"), "--n", "3", "--frame-step", "2", "--backend",
                                       "onnxruntime", "--weights", str(rtmo["onnx"]), "--no-progress", "--json"])
    assert done.exit_code == 0, (done.output, done.exception)
    report = json.loads((tmp_path / "next" / "suggest.json").read_text())
    assert report["candidates"] == 2 + 3, report
    chosen = report["chosen"]
    assert len(chosen) == 3 and any(c["instances"] for c in chosen)
    measured = [c["flip_disagreement"] for c in chosen if c["flip_disagreement"] is not None]
    assert measured and all(d >= 0 for d in measured)


@pytest.mark.parametrize("extra, message", [
    (["--whole-image"], "--whole-image given with a one-stage model"),
    (["--det-weights", "DET"], "--det-weights given with a one-stage model"),
    (["--class", "car"], "--class car given with a one-stage model"),
    (["--track", "--det-every", "2"], "--det-every and --draw-heatmap work with a top-down model"),
])
def test_box_options_are_refused(rtmo, tmp_path, extra, message):
    det = tmp_path / "det.onnx"
    det.write_bytes(b"x")
    extra = [str(det) if e == "DET" else e for e in extra]
    done = CliRunner().invoke(_app(), ["infer", str(rtmo["inputs"]), "--backend", "onnxruntime", "--weights",
                                       str(rtmo["onnx"]), *extra, "--save-json", str(tmp_path / "r.json")])
    said = " ".join((done.output + str(done.exception)).split())
    assert done.exit_code != 0 and message in said, said
    assert not (tmp_path / "r.json").exists()


def test_api_refuses_a_detector_and_boxes(rtmo):
    from mmpx.api import PoseEstimator

    with pytest.raises(MmpxError, match="detector given with a one-stage model"):
        PoseEstimator(rtmo["onnx"], detector=lambda image: (np.zeros((0, 4)), np.zeros(0)))
    pose = PoseEstimator(rtmo["onnx"])
    image = cv2.imread(str(next(rtmo["inputs"].iterdir())))
    with pytest.raises(MmpxError, match="finds its own instances"):
        pose(image, bboxes=np.array([[0, 0, 50, 50]], np.float32))
    with pytest.raises(MmpxError, match="gives no heatmaps"):
        pose(image, heatmaps=True)
    with pytest.raises(MmpxError, match="finds every frame's instances itself"):
        next(pose.run(rtmo["video"], det_every=2))
