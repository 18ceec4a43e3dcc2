"""``mmpx export onnx`` for an RTMDet detector and ``OnnxDetector``: the same boxes as mmdet's ``inference_detector``.

Two detectors: the carpose CPU config trained two iterations here on a synthetic car set (exported through the
command line, which picks the detector exporter from the config), and mmdet's RTMDet-tiny with seeded random
weights on the COCO test images. On each image the ONNX boxes must match mmdet's one to one: the same count at the
same score threshold, matched boxes (same label) at IoU >= 0.99, scores within 1e-3.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (compatibility fixes before any mmdet import below)
from mmpx.errors import MmpxError
from mmpx.runtime.det import OnnxDetector
from mmpx.runtime.model_file import embed_sidecar
from mmpx.testing import carpose_data, train_briefly

pytestmark = pytest.mark.stack  # the whole module needs torch and mmdet

CARPOSE = "rtmdet-tiny_carpose-cpu"
COCO_TINY = "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py"
ENV = {"OMP_NUM_THREADS": "1"}


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]

    def area(x):
        return (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])

    return inter / np.maximum(area(a)[:, None] + area(b)[None] - inter, 1e-9)


def assert_same_boxes(got, ref, where) -> tuple[int, int]:
    """Same count; each ONNX box matched to its own mmdet box of the same label at IoU >= 0.99, scores within 1e-3.

    Barely trained or random detectors score hundreds of priors within 1e-5 of each other, and ONNX Runtime's
    scores differ from torch's by ~1e-8: where two such boxes overlap, which one NMS keeps (and which makes the
    ``max_per_img`` cut) is float noise. So a box may stay unmatched only as one of such a pair: each unmatched
    ONNX box pairs with an unmatched mmdet box scoring within 1e-5 of it, and they are at most 5% of the boxes.
    Returns (boxes, boxes left to such ties)."""
    boxes, scores, labels = got
    assert len(boxes) == len(ref.bboxes), f"{where}: {len(boxes)} ONNX boxes vs {len(ref.bboxes)} from mmdet"
    if not len(boxes):
        return 0, 0
    overlap = iou(boxes, ref.bboxes)
    overlap[labels[:, None] != ref.labels[None]] = 0  # a box matches only one of its own class
    match = overlap.argmax(1)
    matched = overlap.max(1) >= 0.99
    assert len(set(match[matched].tolist())) == matched.sum(), f"{where}: two ONNX boxes matched one mmdet box"
    assert np.abs(scores[matched] - ref.scores[match[matched]]).max() <= 1e-3, where
    assert (labels[matched] == ref.labels[match[matched]]).all(), where
    left = np.sort(scores[~matched])
    theirs = np.sort(np.delete(ref.scores, match[matched]))
    assert len(left) <= 0.05 * len(boxes), f"{where}: {len(left)} of {len(boxes)} boxes unmatched"
    assert len(left) == len(theirs) and (not len(left) or np.abs(left - theirs).max() <= 1e-5), (
        f"{where}: unmatched boxes that are no near-ties: ONNX {left[:5]} vs mmdet {theirs[:5]}")
    return len(boxes), len(left)


def compare(model, detector: OnnxDetector, images: list[Path]) -> int:
    from mmdet.apis import inference_detector

    total = ties = 0
    for path in images:
        image = cv2.imread(str(path))
        ref = inference_detector(model, image).pred_instances.cpu().numpy()
        count, tied = assert_same_boxes(detector(image), ref, path.name)
        total, ties = total + count, ties + tied
    assert ties <= 0.02 * total, f"{ties} of {total} boxes were near-ties decided otherwise"
    return total


@pytest.fixture(scope="module")
def carpose(tmp_path_factory):
    """The carpose CPU detector trained two iterations on 8 synthetic cars, exported with `mmpx export onnx`."""
    root = tmp_path_factory.mktemp("detonnx")
    data = carpose_data(root / "made", n=8, size=128)
    roots = [f"{loader}_dataloader.dataset.data_root={data}/" for loader in ("train", "val", "test")]
    # without the EMA hook (its checkpoint after 2 iterations holds the initial weights, whose scores tie to 1e-8
    # and whose boxes have no size) and the warm-up (lr x 1e-3 at first), at a larger lr: scores that differ
    checkpoint = train_briefly(CARPOSE, root / "run", samples=4, batch_size=2, env=ENV, cfg_options=[
        *roots, f"val_evaluator.ann_file={data}/annotations/val.json",
        f"test_evaluator.ann_file={data}/annotations/val.json", "custom_hooks=[]", "param_scheduler=[]",
        "optim_wrapper.optimizer.lr=0.01", "randomness.seed=0"])
    from typer.testing import CliRunner

    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    out = root / "det.onnx"  # in this process: the command line picks the detector exporter from the config
    app = build_app(load_plugins(distributions=[], env={}))
    done = CliRunner().invoke(app, ["export", "onnx", CARPOSE, str(checkpoint), "--out", str(out)])
    assert done.exit_code == 0, (done.output, done.exception)
    assert "RTMDet detector" in done.output and "1 classes" in done.output, done.output
    return data, checkpoint, out


@pytest.mark.slow
def test_carpose_detector_matches_mmdet(carpose):
    from mmdet.apis import init_detector

    from mmpose_ext.config import load_config

    data, checkpoint, onnx_path = carpose
    sidecar = json.loads(onnx_path.with_suffix(".json").read_text())
    assert sidecar["kind"] == "detector" and sidecar["classes"] == ["car"] and sidecar["strides"] == [8, 16, 32]
    assert sidecar["input"]["size"] == [320, 320] and sidecar["preprocess"]["pad_value"] == 114
    assert sidecar["test_cfg"]["iou_threshold"] == 0.65 and sidecar["test_cfg"]["nms_pre"] == 30000
    model = init_detector(load_config(CARPOSE), str(checkpoint), device="cpu")
    images = sorted((data / "images").rglob("*.jpg"))[:6]
    assert len(images) == 6
    assert compare(model, OnnxDetector(onnx_path), images) > 0


def test_random_rtmdet_tiny_matches_mmdet_on_coco(shared_data, tmp_path):
    import torch
    from mmdet.apis import init_detector

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy import export_detector_onnx

    torch.manual_seed(0)
    model = init_detector(load_config(COCO_TINY), None, device="cpu")
    checkpoint = tmp_path / "random.pth"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    result = export_detector_onnx(COCO_TINY, checkpoint, out=tmp_path / "tiny.onnx")
    assert len(result.sidecar["classes"]) == 80 and result.sidecar["classes"][0] == "person"
    assert result.max_abs_diff < 1e-3
    model.bbox_head.test_cfg.score_thr = 0.05  # a low threshold: every image gives max_per_img (300) boxes
    detector = OnnxDetector(result.onnx_path, score_thr=0.05)
    images = sorted((shared_data / "mmpose-testdata" / "coco").glob("*.jpg"))
    assert len(images) >= 4
    assert compare(model, detector, images) >= 4 * 100


@pytest.mark.slow
def test_int8_detector_keeps_the_fp32_boxes(carpose, tmp_path):
    """``mmpx export int8`` on a detector: calibrated on the set's whole images, it finds the fp32 boxes again."""
    import onnx

    from mmpx.runtime.quantize_det import det_agreement, quantize_detector

    data, _, onnx_path = carpose
    result = quantize_detector(onnx_path, data / "annotations" / "train.json", data / "images",
                               out=tmp_path / "det.int8.onnx", calib_images=4)
    sidecar = json.loads(result.sidecar_path.read_text())
    assert sidecar["quantization"]["calibration"]["images"] == 4 and sidecar["classes"] == ["car"]
    int8 = OnnxDetector(result.onnx_path)  # the sidecar inside it
    assert any(n.op_type == "QuantizeLinear" for n in onnx.load(str(result.onnx_path)).graph.node)
    # the barely trained detector's boxes score low: the floor is half its best score on these images
    fp32, low = OnnxDetector(onnx_path, score_thr=0.0), OnnxDetector(result.onnx_path, score_thr=0.0)
    images = sorted((data / "images").rglob("*.jpg"))
    best = max(float(fp32(cv2.imread(str(p)))[1].max(initial=0)) for p in images)
    measured = det_agreement(fp32, low, images, score_thr=best / 2)
    assert measured["fp32_boxes"] > 0 and measured["recall"] >= 0.5, measured
    assert measured["mean_iou"] >= 0.7, measured
    assert int8(cv2.imread(str(images[0])))[0].shape[1] == 4
    with pytest.raises(MmpxError, match="is the fp32 model itself"):
        quantize_detector(onnx_path, data / "annotations" / "val.json", data / "images", out=onnx_path)


@pytest.mark.slow
def test_bad_inputs_give_clear_errors(carpose, tmp_path):
    from mmpose_ext.deploy import export_detector_onnx

    _, checkpoint, onnx_path = carpose
    # not an RTMDet: the torch detector path remains
    config = tmp_path / "frcnn.py"
    config.write_text("_base_ = ['mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py']\n")
    with pytest.raises(MmpxError, match="FasterRCNN.*cannot be exported") as info:
        export_detector_onnx(config, checkpoint, out=tmp_path / "frcnn.onnx")
    assert "--det-config" in info.value.hint and not (tmp_path / "frcnn.onnx").exists()
    # the checkpoint of another model
    with pytest.raises(MmpxError, match="does not match"):
        export_detector_onnx(COCO_TINY, checkpoint, out=tmp_path / "coco.onnx")
    # a pose model's sidecar where a detector's belongs, in the file and beside it
    pose = {"format": "mmpose-ext/onnx-pose", "version": 1}
    embedded = tmp_path / "pose.onnx"
    shutil.copy(onnx_path, embedded)
    embed_sidecar(embedded, pose)
    with pytest.raises(MmpxError, match="is a pose model"):
        OnnxDetector(embedded)
    (tmp_path / "pose.json").write_text(json.dumps(pose))
    with pytest.raises(MmpxError, match="is a pose model"):
        OnnxDetector(onnx_path, sidecar=tmp_path / "pose.json")
    # a pose model cannot be read as a detector through the pose runtime either
    from mmpx.runtime.ort import OnnxPoseModel

    with pytest.raises(MmpxError, match="det.onnx is a detector: pass it as --det-weights / detector="):
        OnnxPoseModel(onnx_path)


def test_infer_box_filter_is_mmposes_nms():
    """``mmpx infer --det-weights DET.onnx`` filters the detector's boxes with a port of MMPose's demo NMS."""
    from mmpose.evaluation.functional import nms

    from mmpx.runtime.det import pose_demo_nms

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, (400, 2))
    dets = np.concatenate([xy, xy + rng.uniform(5, 80, (400, 2)), rng.uniform(0, 1, (400, 1))], 1).astype(np.float32)
    for thr in (0.3, 0.5, 0.9):
        assert pose_demo_nms(dets, thr) == list(nms(dets, thr))


def test_dynamic_size_detector_matches_mmdet_padded_to_32(shared_data, tmp_path):
    """``--dynamic-size``: each image padded to a multiple of 32, not to 640x640; the boxes of mmdet's test
    pipeline with ``Pad(size_divisor=32)`` on the COCO images and on a 640x480 frame, and a batch of mixed sizes
    gives each image's own result. The int8 quantiser calibrates it at the images' own sizes."""
    import torch
    from mmdet.apis import init_detector

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy import export_detector_onnx
    from mmpx.runtime.quantize_det import quantize_detector

    torch.manual_seed(0)
    cfg = load_config(COCO_TINY)
    model = init_detector(cfg, None, device="cpu")
    checkpoint = tmp_path / "random.pth"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    result = export_detector_onnx(COCO_TINY, checkpoint, out=tmp_path / "tiny.onnx", dynamic_size=True)
    sidecar = result.sidecar
    assert sidecar["input"]["dynamic_size"] is True and sidecar["input"]["shape"] == ["batch", 3, "height", "width"]
    assert sidecar["preprocess"]["size_divisor"] == 32 and sidecar["outputs"][0]["shape"][1] == "priors"
    assert result.max_abs_diff < 1e-3  # checked at 640x640 and at 640x480

    pipeline = model.cfg.test_dataloader.dataset.pipeline
    pad = next(step for step in pipeline if step["type"].endswith("Pad"))
    pad.pop("size")
    pad["size_divisor"] = 32  # mmdet's own mode: the same test pipeline, padded to a multiple of 32
    model.bbox_head.test_cfg.score_thr = 0.05
    detector = OnnxDetector(result.onnx_path, score_thr=0.05)
    images = sorted((shared_data / "mmpose-testdata" / "coco").glob("*.jpg"))
    assert len(images) >= 4
    frame = tmp_path / "frame_640x480.jpg"
    cv2.imwrite(str(frame), cv2.resize(cv2.imread(str(images[0])), (640, 480)))
    assert compare(model, detector, [*images, frame]) >= 4 * 100
    from mmdet.apis import inference_detector

    ran = inference_detector(model, cv2.imread(str(frame))).metainfo  # mmdet ran the frame at 640x480...
    assert tuple(ran["img_shape"]) == (480, 640) and tuple(ran["batch_input_shape"]) == (480, 640), ran
    chw, _ = detector.preprocess(cv2.imread(str(frame)))
    assert chw.shape == (3, 480, 640)  # ...and so does the ONNX detector

    pictures = [cv2.imread(str(p)) for p in (frame, images[0], frame)]  # two padded sizes in one call
    for got, alone in zip(detector.detect(pictures), (detector(p) for p in pictures), strict=True):
        assert len(got[0]) == len(alone[0]) and np.allclose(got[0], alone[0], atol=1e-3)
        assert np.allclose(got[1], alone[1], atol=1e-5) and (got[2] == alone[2]).all()

    ann = tmp_path / "images.json"  # the COCO images and the frame: two sizes to calibrate on
    ann.write_text(json.dumps({"images": [{"id": i, "file_name": str(p)} for i, p in enumerate([*images, frame])],
                               "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    int8 = quantize_detector(result.onnx_path, ann, tmp_path, out=tmp_path / "tiny.int8.onnx", calib_images=8)
    assert int8.calibration_images == len(images) + 1
    quantised = OnnxDetector(int8.onnx_path)
    assert quantised.dynamic_size and quantised(cv2.imread(str(frame)))[0].shape[1] == 4


def test_dynamic_size_is_for_detectors_only(tmp_path):
    from typer.testing import CliRunner

    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    checkpoint = tmp_path / "pose.pth"
    checkpoint.write_bytes(b"never read")
    app = build_app(load_plugins(distributions=[], env={}))
    done = CliRunner().invoke(app, ["export", "onnx", "rtmpose-t_carpose-256x256", str(checkpoint), "--out",
                                    str(tmp_path / "pose.onnx"), "--dynamic-size"])
    assert isinstance(done.exception, MmpxError), done.output
    assert "--dynamic-size: rtmpose-t_carpose-256x256 is not a detector config" in str(done.exception)
    assert not (tmp_path / "pose.onnx").exists()
