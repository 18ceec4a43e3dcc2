"""Boxes of several classes in one run: a two-class pose model (car 4 keypoints, bicycle 4, its union 8) and a
detector whose classes are car, bicycle and person; each box takes the class of its detector label (matched by
name), each instance only its class's keypoints, names, ``category_id``, skeleton; person boxes are dropped and
counted. The detector is a real exported-detector file (``OnnxBoxes``) whose graph gives known scores, so the
labels are controlled; the pose model is ``mmpx configs new`` on the tiny street dataset with seeded random
weights, run on torch and exported to ONNX (the two agree). Also the torch mmdet detector's labelled boxes."""

from __future__ import annotations

import csv
import json

import cv2
import numpy as np
import pytest

from mmpx.errors import MmpxError
from tests.helpers import mmpx
from tests.mmpx.configs.multiclass_data import BICYCLE, CAR, make_dataset

pytestmark = pytest.mark.stack

SIZE = 64  # detector input 64 x 64 (the 128 x 96 images at half scale); strides 8/16/32: 64 + 16 + 4 priors
PRIORS = 84
CAR_BOX, BICYCLE_BOX, PERSON_BOX = [0, 0, 64, 48], [60, 30, 128, 96], [0, 60, 40, 96]


def write_detector(path, classes=("car", "bicycle", "person")):
    """An exported-detector file whose graph returns constant scores and distances: one box per class above
    (in image pixels, the input at half scale), best first in the order car, bicycle, person."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from mmpx.runtime.det import DET_FORMAT
    from mmpx.runtime.model_file import embed_sidecar

    scores = np.zeros((1, PRIORS, len(classes)), np.float32)
    dists = np.ones((1, PRIORS, 4), np.float32)
    for label, (box, score) in enumerate(((CAR_BOX, 0.9), (BICYCLE_BOX, 0.8), (PERSON_BOX, 0.7))):
        x1, y1, x2, y2 = (v / 2 for v in box)
        px, py = int((x1 + x2) / 2 // 8), int((y1 + y2) / 2 // 8)  # a level-0 prior inside the box
        row = py * 8 + px
        scores[0, row, label] = score
        dists[0, row] = (px * 8 - x1, py * 8 - y1, x2 - px * 8, y2 - py * 8)
    nodes = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_c"))
             for name, value in (("scores", scores), ("distances", dists))]
    graph = helper.make_graph(
        nodes, "det", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(v.shape)) for n, v in (("scores", scores),
                                                                                         ("distances", dists))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    embed_sidecar(path, {
        "format": DET_FORMAT, "version": 1, "kind": "detector", "onnx": path.name,
        "input": {"name": "input", "shape": [1, 3, SIZE, SIZE], "size": [SIZE, SIZE], "dynamic_batch": False},
        "outputs": [{"name": "scores", "shape": [1, PRIORS, len(classes)]},
                    {"name": "distances", "shape": [1, PRIORS, 4]}],
        "classes": list(classes), "strides": [8, 16, 32],
        "preprocess": {"mean": [0, 0, 0], "std": [1, 1, 1], "bgr_to_rgb": False, "resize_scale": [SIZE, SIZE],
                       "keep_ratio": True, "pad_value": 114.0},
        "test_cfg": {"score_thr": 0.05, "nms_pre": 1000, "iou_threshold": 0.65, "max_per_img": 100,
                     "min_bbox_size": 0.0}})
    return path


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> dict:
    """The dataset, its config, a checkpoint whose meta carries the classes, its ONNX export, the detector."""
    import torch

    import mmpose_ext  # noqa: F401  (registries before mmpose builds anything)
    from mmpose_ext.config import load_config
    from mmpose_ext.deploy.export import export_onnx
    from mmpose_ext.deploy.model import build_model
    from mmpose_ext.registry import DATASETS

    root = tmp_path_factory.mktemp("mixed")
    data = make_dataset(root / "data")
    config = root / "street.py"
    done = mmpx("configs", "new", "--data", str(data), "--model", "rtmpose-t", "--out", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    cfg = load_config(config)
    torch.manual_seed(0)
    model = build_model(cfg)
    meta = DATASETS.build(cfg.val_dataloader.dataset).metainfo
    ckpt = root / "street.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": meta}}, ckpt)
    onnx = export_onnx(config, ckpt, root / "street.onnx").onnx_path
    return dict(root=root, data=data, config=config, ckpt=ckpt, onnx=onnx, det=write_detector(root / "det.onnx"))


def _image(street, i: int = 0) -> np.ndarray:
    return cv2.imread(str(street["data"] / "images" / f"street_{i}.png"))


def test_each_box_its_detector_class_torch_and_onnx(street):
    from mmpx.api import PoseEstimator

    image = _image(street)
    results = []
    for model in ((str(street["config"]), str(street["ckpt"])), (str(street["onnx"]),)):
        pose = PoseEstimator(*model, detector=str(street["det"]), flip_test=False)
        assert pose.mixed
        r = pose(image)
        assert r.classes == ["car", "bicycle"] and r.category_ids == [1, 2]  # the detector's order
        assert r.instance_names == [CAR, BICYCLE]
        assert [k.shape for k in r.keypoints] == [(4, 2), (4, 2)] and [s.shape for s in r.scores] == [(4,), (4,)]
        np.testing.assert_allclose(r.bboxes, [CAR_BOX, BICYCLE_BOX], atol=1e-3)
        assert pose.boxes.dropped == {"person": 1}  # a detector class that is no pose class
        records = r.to_coco()
        assert [(x["category_id"], x["category"], len(x["keypoints"])) for x in records] == [
            (1, "car", 12), (2, "bicycle", 12)]
        rows = r.to_table()
        assert {(row["class"], row["keypoint"]) for row in rows} == {("car", n) for n in CAR} | {
            ("bicycle", n) for n in BICYCLE}
        assert r.draw().shape == image.shape
        doc = r.to_labelme("street_0.png")
        assert [s["label"] for s in doc["shapes"] if s["shape_type"] == "rectangle"] == ["car", "bicycle"]
        with pytest.raises(MmpxError, match="several classes"):
            _ = r.names
        # exactly the class's block of what the model gives for that box alone
        for i, (name, box) in enumerate((("car", CAR_BOX), ("bicycle", BICYCLE_BOX))):
            alone = pose(image, bboxes=[box], class_name=name)
            np.testing.assert_allclose(r.keypoints[i], alone.keypoints[0], atol=1e-4)
        with pytest.raises(MmpxError, match="bboxes given without a class"):
            pose(image, bboxes=[CAR_BOX])
        results.append(r)
    for a, b in zip(results[0].keypoints + results[0].scores, results[1].keypoints + results[1].scores,
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-3)


def test_infer_command_outputs(street, tmp_path):
    images = street["data"] / "images"
    out = tmp_path / "out"
    done = mmpx("infer", str(images / "street_0.png"), str(images / "street_1.png"), "--backend", "onnxruntime",
                "--weights", str(street["onnx"]), "--det-weights", str(street["det"]), "--out-dir", str(out),
                "--save-json", str(out / "r.json"), "--save-labelme", str(tmp_path / "pre"), "--track",
                "--save-csv", str(out / "t.csv"))
    text = done.stdout + done.stderr
    assert done.returncode == 0, text
    assert "dropped 2 box(es) of detector classes the pose model does not have: 2 person" in text
    records = json.loads((out / "r.json").read_text())
    assert [(r["category_id"], r["category"], len(r["keypoints"])) for r in records] == [
        (1, "car", 12), (2, "bicycle", 12)] * 2
    with open(out / "t.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {(r["class"], r["keypoint"]) for r in rows} == {("car", n) for n in CAR} | {("bicycle", n) for n in BICYCLE}
    assert len(rows) == 2 * 8 and len(list(out.glob("*.png"))) == 2
    # the pre-labels read back as two classes
    done = mmpx("convert", "labelme", str(tmp_path / "pre"), str(tmp_path / "conv"), "--classes", "car,bicycle",
                "--val-ratio", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    ann = json.loads((tmp_path / "conv" / "annotations" / "train.json").read_text())
    assert [(c["id"], c["name"]) for c in ann["categories"]] == [(1, "car"), (2, "bicycle")]
    assert sorted(a["category_id"] for a in ann["annotations"]) == [1, 1, 2, 2]
    # --det-cat-id filters the detector's labels: bicycles only
    done = mmpx("infer", str(images / "street_0.png"), "--backend", "onnxruntime", "--weights", str(street["onnx"]),
                "--det-weights", str(street["det"]), "--det-cat-id", "1", "--save-json", str(tmp_path / "b.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["category"] for r in json.loads((tmp_path / "b.json").read_text())] == ["bicycle"]
    # --class keeps its meaning: every box (label 0 by default) that class
    done = mmpx("infer", str(images / "street_0.png"), "--backend", "onnxruntime", "--weights", str(street["onnx"]),
                "--det-weights", str(street["det"]), "--class", "bicycle", "--save-json", str(tmp_path / "c.json"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert [r["category"] for r in json.loads((tmp_path / "c.json").read_text())] == ["bicycle"]
    done = mmpx("infer", str(images / "street_0.png"), "--backend", "onnxruntime", "--weights", str(street["onnx"]),
                "--det-weights", str(street["det"]), "--save-as", str(tmp_path / "p.slp"))
    assert done.returncode != 0 and "one skeleton" in done.stdout + done.stderr


def test_video_det_every_keeps_classes(street, tmp_path):
    """Frames detected in one batch, boxes between detections predicted from the tracks: each keeps its class,
    a track never changes class."""
    from mmpx.api import PoseEstimator, trajectories

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (128, 96))
    for _ in range(6):
        writer.write(_image(street))
    writer.release()
    pose = PoseEstimator(str(street["onnx"]), detector=str(street["det"]), flip_test=False)
    results = list(pose.run(video, det_every=3, batch_frames=2))
    assert len(results) == 6
    classes_of: dict[int, set] = {}
    for r in results:
        assert sorted(r.classes) == ["bicycle", "car"]
        assert [len(k) for k in r.keypoints] == [4, 4]
        for t, c in zip(r.track_ids.tolist(), r.classes, strict=True):
            classes_of.setdefault(t, set()).add(c)
    assert sorted(len(v) for v in classes_of.values()) == [1, 1]  # two tracks, one class each
    rows = trajectories(results).rows()
    assert len(rows) == 6 * 8 and {r["class"] for r in rows} == {"car", "bicycle"}


def test_detector_without_pose_classes(street, tmp_path):
    from mmpx.api import PoseEstimator

    det = write_detector(tmp_path / "other.onnx", classes=("truck", "bus", "person"))
    pose = PoseEstimator(str(street["onnx"]), detector=str(det))  # a call may still name the class
    with pytest.raises(MmpxError, match=r"2 classes \(car, bicycle\) and the detector .* none of them "
                                        r"\(truck, bus, person\)"):
        pose(_image(street))
    assert pose(_image(street), class_name="car").classes == ["car"]  # label 0 (truck) by default
    done = mmpx("infer", str(street["data"] / "images" / "street_0.png"), "--backend", "onnxruntime",
                "--weights", str(street["onnx"]), "--det-weights", str(det), "--save-json", str(tmp_path / "r.json"))
    assert done.returncode != 0 and "none of them (truck, bus, person)" in done.stdout + done.stderr


def test_torch_detector_labelled_boxes(street):
    """The mmdet detector (the shipped two-class RTMDet-tiny, seeded random weights in a checkpoint whose meta
    names its classes, as a trained one's does) gives labels too: a mixed run of the torch pose model on it."""
    import torch

    from mmpose_ext.infer.detector import MMDetDetector
    from mmpx.api import PoseEstimator

    config = "configs/street/rtmdet-tiny_street-cpu.py"
    torch.manual_seed(0)
    ckpt = street["root"] / "det.pth"
    state = MMDetDetector(config).model.state_dict()
    for key in [k for k in state if k.endswith("bias")]:  # both classes score high, boxes of some size
        if "rtm_cls" in key:
            state[key] = torch.tensor([2.0, 1.5])
        elif "rtm_reg" in key:
            state[key] = torch.full_like(state[key], 2.0)
    torch.save({"state_dict": state, "meta": {"dataset_meta": {"classes": ["car", "bicycle"]}}}, ckpt)
    det = MMDetDetector(config, ckpt, bbox_thr=0.0, nms_thr=0.05)
    assert det.classes == ["car", "bicycle"]
    boxes, scores, labels = det.labelled(_image(street))
    assert len(boxes) == len(scores) == len(labels) > 0 and set(labels.tolist()) <= {0, 1}
    assert np.all(np.diff(scores) <= 0)  # best first
    pose = PoseEstimator(str(street["config"]), str(street["ckpt"]), detector=config, det_weights=ckpt,
                         bbox_thr=0.0, nms_thr=0.05, flip_test=False)
    r = pose(_image(street))
    assert pose.mixed and r.classes == [["car", "bicycle"][i] for i in labels.tolist()]
    assert [len(k) for k in r.keypoints] == [4] * len(labels) and pose.boxes.dropped == {}


def test_nms_within_each_class():
    """A bicycle on a car keeps its box (NMS per class); a second car on the car does not; best first."""
    from mmpx.runtime.det import labelled_filter

    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10], [50, 50, 60, 60]], np.float32)
    b, s, labels = labelled_filter(boxes, np.array([0.8, 0.7, 0.9, 0.2]), np.array([0, 0, 1, 2]), None, 0.3, 0.3)
    assert labels.tolist() == [1, 0] and s.tolist() == pytest.approx([0.9, 0.8])
    np.testing.assert_array_equal(b, boxes[[2, 0]])
    assert labelled_filter(boxes, np.array([0.8, 0.7, 0.9, 0.5]), np.array([0, 0, 1, 2]), [2], 0.3,
                           1.0)[2].tolist() == [2]
