"""``mmpx export onnx`` for a one-stage RTMO and ``OnnxOneStage``: the same instances as MMPose's ``model.predict``.

The model is an RTMO-t for the 8 car keypoints at a 160 x 160 input, written by ``mmpx configs new`` on synthetic
multi-car scenes, with random weights: its batch norms calibrated on the scenes (so the features are of a sane
size) and its score convolution scaled and biased so that a few dozen anchors of each image pass the score
threshold, some overlapping (NMS has work to do). On each image the ONNX instances must match MMPose's one to one:
the same count, boxes at IoU >= 0.99, keypoints within 0.5 px, scores and keypoint scores within 1e-3.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (compatibility fixes before any mmpose import below)
from mmpx.errors import MmpxError
from mmpx.runtime.one_stage import OnnxOneStage
from tests.mmpx.configs.one_stage_data import make_rtmo_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]

    def area(x):
        return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])

    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def pair_up(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """For each ONNX instance (best first) the nearest MMPose instance by keypoints not taken yet: boxes clamped
    to the same border strip can coincide, keypoints do not."""
    cost = np.abs(got[:, None] - ref[None]).max(axis=(-1, -2))
    match = []
    for row in cost:
        row = row.copy()
        row[match] = np.inf
        match.append(int(row.argmin()))
    return np.array(match, dtype=np.int64)


def calibrated_model(config: Path, images: list[np.ndarray]):
    """The config's RTMO with random weights, batch-norm statistics taken from ``images``, a score layer that
    gives scores spread over (0, 1), a box layer whose boxes overlap and smooth keypoint heatmaps."""
    import torch
    from mmengine.dataset import Compose, pseudo_collate

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy.model import build_model, dataset_meta

    cfg = load_config(config)
    torch.manual_seed(0)
    model = build_model(cfg)
    model.dataset_meta = dataset_meta(None, cfg, config)
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # the plain average over the calibration passes
    pipeline = Compose(cfg.test_dataloader.dataset.pipeline)
    batch = model.data_preprocessor(pseudo_collate([pipeline(dict(img=im, **model.dataset_meta)) for im in images]))
    model.train()
    with torch.no_grad():
        model.head.head_module(model.extract_feat(batch["inputs"]))
        model.eval()
        for conv in model.head.head_module.out_cls:
            conv.weight.mul_(4.0)  # logits of spread ~1: scores from ~0 to ~1, none saturated at 1 (ties)
            conv.bias.fill_(-3.0)  # a few to a few dozen anchors of an image above score_thr 0.1
        for conv in model.head.head_module.out_bbox:  # (dx, dy, log w, log h): boxes of ~7 strides, which
            conv.weight.mul_(0.1)  # overlap their neighbours' enough for NMS to drop some
            conv.bias[2:].fill_(2.0)
        for fc in (model.head.dcc.x_fc, model.head.dcc.y_fc):  # 1-D heatmap logits spread over ~300 otherwise:
            fc.weight.mul_(0.02)  # a near tie of two far bins flips with float noise; ~6, as a trained model's
            fc.bias.mul_(0.02)
    return model


def scenes(data: Path) -> list[np.ndarray]:
    """The scene images, plus a wide and a tall crop (the input is padded on another side)."""
    images = [cv2.imread(str(p)) for p in sorted((data / "images").rglob("*.jpg"))]
    first = images[0]
    return images + [first[: first.shape[0] * 2 // 3], np.ascontiguousarray(first[:, : first.shape[1] // 2])]


@pytest.fixture(scope="module")
def rtmo(tmp_path_factory):
    import torch
    from typer.testing import CliRunner

    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    tmp = tmp_path_factory.mktemp("rtmo")
    config, data = make_rtmo_config(tmp, check=False)
    images = scenes(data)
    model = calibrated_model(config, images)
    ckpt = tmp / "rtmo.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
    onnx_path = tmp / "rtmo.onnx"
    app = build_app(load_plugins(distributions=[], env={}))  # in this process: export picks RTMO from the config
    done = CliRunner().invoke(app, ["export", "onnx", str(config), str(ckpt), "--out", str(onnx_path)])
    assert done.exit_code == 0, (done.output, done.exception)
    assert "one-stage model" in done.output, done.output
    return model, onnx_path, images


def torch_predict(model, image: np.ndarray):
    from mmpose.apis import inference_bottomup

    return inference_bottomup(model, image)[0].pred_instances


def test_onnx_matches_torch_predict(rtmo):
    model, onnx_path, images = rtmo
    runtime = OnnxOneStage(onnx_path)
    assert runtime.score_thr == pytest.approx(0.1) and runtime.nms_thr == pytest.approx(0.65)  # the config's
    found = suppressed = 0
    for i, image in enumerate(images):
        ref, got = torch_predict(model, image), runtime.predict(image)
        where = f"image {i} ({image.shape[1]}x{image.shape[0]})"
        raw = runtime.session.run(["scores"], {"input": runtime.preprocess(image)[0][None]})[0][0]
        candidates = int((raw > runtime.score_thr).sum())
        assert candidates < len(raw) and not got.truncated, f"{where}: the top {len(raw)} anchors all pass"
        suppressed += candidates - len(got)
        assert len(got) == len(ref.scores), f"{where}: {len(got)} ONNX instances vs {len(ref.scores)} from MMPose"
        found += len(got)
        if not len(got):
            continue
        match = pair_up(got.keypoints, ref.keypoints)
        rows = np.arange(len(got))
        overlap = iou(got.boxes, ref.bboxes)[rows, match]
        gap = np.abs(got.boxes - ref.bboxes[match]).max(-1)  # boxes clamped flat on the border have no IoU
        assert np.all((overlap >= 0.99) | (gap <= 0.05)), f"{where}: boxes differ: IoU {overlap}"
        np.testing.assert_allclose(got.scores, ref.scores[match], atol=1e-3, err_msg=where)
        np.testing.assert_allclose(got.keypoints, ref.keypoints[match], atol=0.5, err_msg=where)
        np.testing.assert_allclose(got.keypoint_scores, ref.keypoint_scores[match], atol=1e-3, err_msg=where)
        assert got.keypoints.shape[1:] == (8, 2) and got.boxes.dtype == np.float32
        assert np.all(np.diff(got.scores) <= 0), f"{where}: not best first"
    assert found >= len(images), f"only {found} instances in {len(images)} images: the test compares too little"
    assert suppressed > 0, "NMS removed nothing: the test does not compare it"


def test_sidecar_batch_and_thresholds(rtmo):
    _, onnx_path, images = rtmo
    sidecar = json.loads(onnx_path.with_suffix(".json").read_text())
    assert sidecar["kind"] == "one-stage" and sidecar["format"] == "mmpose-ext/onnx-one-stage"
    assert sidecar["input"]["size"] == [160, 160] and sidecar["preprocess"]["pad_value"] == [114.0] * 3
    assert sidecar["dataset_meta"]["num_keypoints"] == 8 and len(sidecar["dataset_meta"]["sigmas"]) == 8
    assert sidecar["dataset_meta"]["keypoint_id2name"]["0"] == "left_front_bumper"
    assert sidecar["model"]["top_k"] == 100 and sidecar["source"]["max_abs_diff_vs_torch"] >= 0
    runtime = OnnxOneStage(onnx_path)
    assert runtime.dataset_meta["keypoint_id2name"][0] == "left_front_bumper"  # int ids, as MMPose parses them
    alone = [runtime.predict(image) for image in images[:3]]
    for one, many in zip(alone, runtime.predict_batch(images[:3]), strict=True):  # one run for three images
        np.testing.assert_allclose(one.keypoints, many.keypoints, atol=1e-3)
        np.testing.assert_allclose(one.scores, many.scores, atol=1e-5)
    strict = OnnxOneStage(onnx_path, score_thr=0.5, nms_thr=1.0)
    for image, base in zip(images[:3], alone, strict=True):
        got = strict.predict(image)
        assert np.all(got.scores > 0.5)
        assert len(got) >= (base.scores > 0.5).sum()  # without NMS nothing above 0.5 is dropped


def test_bad_inputs_give_one_clear_line(rtmo, tmp_path):
    from mmpx.runtime.ort import OnnxPoseModel
    from tests.onnx_model import write_tiny_onnx

    _, onnx_path, _ = rtmo
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(onnx_path.read_bytes()[: 20000])
    with pytest.raises(MmpxError, match="not a readable ONNX model"):
        OnnxOneStage(damaged)
    top_down = write_tiny_onnx(tmp_path / "pose.onnx")
    with pytest.raises(MmpxError, match="pose.onnx is a top-down pose model .*, not a one-stage model"):
        OnnxOneStage(top_down)
    with pytest.raises(MmpxError, match="rtmo.onnx is a one-stage model .*, not a top-down pose model"):
        OnnxPoseModel(onnx_path)
    with pytest.raises(MmpxError, match="does not exist"):
        OnnxOneStage(tmp_path / "none.onnx")
    with pytest.raises(MmpxError, match="H x W x 3 BGR image"):
        OnnxOneStage(onnx_path).predict(np.zeros((10, 10), np.uint8))


def test_other_bottomup_heads_are_refused(rtmo, tmp_path):
    """A bottom-up model with another head is named, with what export supports."""
    from mmpose_ext.deploy.export import export_onnx

    model, _, _ = rtmo
    ckpt = tmp_path / "any.pth"
    ckpt.write_bytes(b"x")
    with pytest.raises(MmpxError, match="BottomupPoseEstimator with head DEKRHead is not supported") as info:
        export_onnx(model.cfg.filename, ckpt, out=tmp_path / "x.onnx", cfg_options=["model.head.type=DEKRHead"])
    assert "RTMOHead" in info.value.hint
    assert not (tmp_path / "x.onnx").exists()


def test_runtime_imports_no_torch(rtmo):
    _, onnx_path, images = rtmo
    image = str(Path(onnx_path).parent / "probe.png")
    cv2.imwrite(image, images[0])
    code = ("import sys, cv2; from mmpx.runtime.one_stage import OnnxOneStage; "
            f"r = OnnxOneStage({str(onnx_path)!r}).predict(cv2.imread({image!r})); "
            "print(len(r), sorted(m for m in ('torch', 'mmengine', 'mmcv', 'mmpose', 'mmpose_ext') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("[]"), done.stdout
