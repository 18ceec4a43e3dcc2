"""A model with a visibility head (``mmpx configs new --visibility``, trained one epoch on synthetic occluded cars)
gives each keypoint's ``visible`` probability in every inference output: the Python API's ``PoseResult.visible``
(``to_coco``, ``to_table``, ``to_labelme``, trajectories), and through ``mmpx infer`` with ONNX Runtime the JSON
records, the trajectory CSV of a tracked video (with boxes every other frame) and ``--save-labelme``, whose
points predicted hidden ``mmpx convert labelme`` reads back as hidden (v=1). Torch and ONNX Runtime agree within
1e-3. A model without visibility adds nothing to any output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.testing import run_cli
from tests.helpers import mmpx

pytestmark = pytest.mark.stack

QUICK = ["train_cfg.max_epochs=1", "train_cfg.val_interval=1", "default_hooks.checkpoint.interval=1",
         "custom_hooks=[]"] + [f"{loader}.{key}" for loader in ("train_dataloader", "val_dataloader",
                                                                "test_dataloader")
                               for key in ("num_workers=0", "persistent_workers=False")]
K = 8  # the carpose keypoints


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(config, checkpoint, converted cars): configs new --visibility, one epoch (one iteration) of mmpx train;
    then the visibility layer's biases set to 3 or -3 (a left/right pair alike), so that the probabilities are
    far from 0.5, seen and hidden points both, which one iteration is too short to learn."""
    import torch

    from mmpx.app.configs_new import ConfigsNewRequest, configs_new
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    root = tmp_path_factory.mktemp("vis_out")
    synth_carpose(root / "labelme", n=16, seed=3, size=96, max_cars=1, occlusion=0.8)
    convert_labelme(root / "labelme", root / "cars", val_ratio=0.25, seed=0)
    config = root / "vis.py"
    configs_new(ConfigsNewRequest(root / "cars", "rtmpose-t", config, input_size="64x64", visibility=True))
    result = mmpx("train", str(config), "--work-dir", str(root / "work"), "--device", "cpu", "--no-progress",
                  *[arg for item in QUICK for arg in ("--cfg-options", item)], timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    checkpoint = torch.load(root / "work" / "epoch_1.pth", map_location="cpu", weights_only=False)
    state = checkpoint["state_dict"]
    flip = checkpoint["meta"]["dataset_meta"]["flip_indices"]  # the flip test averages a point with its mirror
    state["head.vis_head.2.bias"] = torch.tensor([3.0 if min(k, flip[k]) % 2 == 0 else -3.0 for k in range(K)])
    torch.save(checkpoint, root / "spread.pth")
    return config, root / "spread.pth", root / "cars"


@pytest.fixture(scope="module")
def inputs(trained, tmp_path_factory) -> Path:
    """Three car images and a four-frame video of them."""
    folder = tmp_path_factory.mktemp("vis_inputs")
    images = sorted((trained[2] / "images").rglob("*.png"))[:3] or sorted((trained[2] / "images").rglob("*.jpg"))[:3]
    (folder / "images").mkdir()
    for path in images:
        shutil.copy(path, folder / "images" / path.name)
    frames = [cv2.imread(str(p)) for p in images]
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(folder / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for frame in frames + frames[:1]:
        writer.write(frame)
    writer.release()
    return folder


@pytest.fixture(scope="module")
def torch_pose(trained):
    from mmpx.api import PoseEstimator

    config, checkpoint, _ = trained
    return PoseEstimator(config, checkpoint)


def test_the_python_api_carries_visible(torch_pose, inputs):
    from mmpx.api import trajectories

    image = next((inputs / "images").iterdir())
    result = torch_pose(image)
    assert result.visible.shape == (1, K) and ((result.visible >= 0) & (result.visible <= 1)).all()
    (record,) = result.to_coco()
    assert record["keypoint_visible"] == [round(float(v), 4) for v in result.visible[0]]
    assert len(record["keypoints"]) == 3 * K  # still a COCO result
    rows = result.to_table()
    assert [r["visible"] for r in rows] == pytest.approx(result.visible[0].tolist())
    assert list(rows[0]) == ["image", "instance", "keypoint", "x", "y", "score", "visible", "bbox_score"]
    doc = result.to_labelme(image.name)
    points = [s for s in doc["shapes"] if s["shape_type"] == "point"]
    for shape in points:
        p = float(result.visible[0, result.names.index(shape["label"])])
        assert shape["flags"]["occluded"] == (p < 0.5) and shape["description"].endswith(f"visible {p:.2f}")

    video = list(torch_pose.run(inputs / "clip.avi", track=True))  # (the ONNX test's video: boxes every 2nd frame)
    assert len(video) == 4 and all(r.visible is not None and r.visible.shape == (1, K) for r in video)
    table = trajectories(video)
    assert table.columns[-1] == "visible_prob"
    np.testing.assert_allclose(table.arrays()["visible_prob"], np.concatenate([r.visible[0] for r in video]),
                               atol=1e-6)


def test_onnx_runtime_infer_writes_visible_everywhere(trained, inputs, torch_pose, tmp_path):
    from mmpose_ext.deploy.export import export_onnx
    from mmpx.convert.labelme import convert_labelme
    from mmpx.infer.results import keypoint_names
    from mmpx.infer.trajectories import read_trajectories

    config, checkpoint, _ = trained
    onnx = export_onnx(config, checkpoint, tmp_path / "vis.onnx").onnx_path
    common = ["--weights", onnx, "--backend", "onnxruntime", "--whole-image", "--no-progress"]
    result = run_cli("infer", inputs / "images", *common, "--save-json", tmp_path / "images.json",
                     "--save-labelme", tmp_path / "pre")
    assert result.exit_code == 0, result.stderr
    records = json.loads((tmp_path / "images.json").read_text())
    assert len(records) == 3
    worst = 0.0
    for record in records:
        torch_visible = torch_pose(inputs / "images" / record["file_name"]).visible[0]
        worst = max(worst, float(np.abs(np.array(record["keypoint_visible"]) - torch_visible).max()))
    assert worst <= 1e-3, worst  # (the JSON keeps 4 decimals)
    print(f"torch vs ONNX Runtime visible: max difference {worst:.1e}")

    # the pre-labels: each point flagged occluded as the model says, read back by convert as v=1
    convert_labelme(tmp_path / "pre", tmp_path / "coco", keypoints=keypoint_names(torch_pose.dataset_meta),
                    val_ratio=0)
    coco = json.loads((tmp_path / "coco" / "annotations" / "train.json").read_text())
    names = {im["id"]: im["file_name"] for im in coco["images"]}
    back = {names[a["image_id"]]: np.array(a["keypoints"]).reshape(-1, 3)[:, 2] for a in coco["annotations"]}
    seen = hidden = 0
    for record in records:
        visible = np.array(record["keypoint_visible"])
        pred = np.array(record["keypoints"]).reshape(-1, 3)[:, :2]
        inside = ((pred >= 0) & (pred <= 96)).all(1)
        clear = inside & (np.abs(visible - 0.5) > 1e-3)  # (the JSON's 4 decimals decide no point at 0.5)
        assert (back[record["file_name"]][clear] == np.where(visible < 0.5, 1, 2)[clear]).all()
        doc = json.loads((tmp_path / "pre" / record["file_name"]).with_suffix(".json").read_text())
        flags = np.array([s["flags"]["occluded"] for s in doc["shapes"] if s["shape_type"] == "point"])
        assert (flags == (back[record["file_name"]][inside] == 1)).all()
        seen, hidden = seen + int((visible[clear] >= 0.5).sum()), hidden + int((visible[clear] < 0.5).sum())
    assert seen and hidden, (seen, hidden)

    # a tracked video, boxes every other frame: the JSON and the trajectory table carry it too
    result = run_cli("infer", inputs / "clip.avi", *common, "--track", "--det-every", "2", "--save-json",
                     tmp_path / "video.json", "--save-csv", tmp_path / "video.csv")
    assert result.exit_code == 0, result.stderr
    frames = json.loads((tmp_path / "video.json").read_text())
    table = read_trajectories(tmp_path / "video.csv")
    assert len(frames) == 4 and len(table["visible_prob"]) == 4 * K
    np.testing.assert_allclose(table["visible_prob"], np.concatenate([r["keypoint_visible"] for r in frames]),
                               atol=1e-4)
    header = (tmp_path / "video.csv").read_text().splitlines()[0].split(",")
    assert header[header.index("visible") + 1] == "visible_prob"


def test_hidden_points_round_trip_through_labelme(tmp_path):
    """Points under 0.5 are flagged occluded (0.5 itself is seen); convert reads them back as v=1, the others v=2;
    a point left out (outside the image) stays v=0."""
    from mmpx.convert.labelme import convert_labelme
    from mmpx.infer.inputs import Source
    from mmpx.infer.labelme_out import LabelmeSink

    image = np.full((60, 80, 3), 127, np.uint8)
    cv2.imwrite(str(tmp_path / "a.png"), image)
    names = ["nose", "tail", "left", "right"]
    keypoints = np.array([[[10, 10], [20, 20], [30, 30], [90, 40]]], np.float32)  # the last outside the image
    visible = np.array([[0.1, 0.5, 0.49, 0.2]], np.float32)
    sink = LabelmeSink(tmp_path / "pre", names)
    sink.image(Source(tmp_path / "a.png", "a.png", "image"), image, keypoints, np.ones((1, 4)),
               np.array([[0, 0, 70, 50]], np.float32), visible=visible)
    doc = json.loads((tmp_path / "pre" / "a.json").read_text())
    assert [(s["label"], s["flags"]) for s in doc["shapes"][1:]] == [
        ("nose", {"check": False, "occluded": True}), ("tail", {"check": False, "occluded": False}),
        ("left", {"check": False, "occluded": True})]
    convert_labelme(tmp_path / "pre", tmp_path / "coco", keypoints=names, val_ratio=0)
    (ann,) = json.loads((tmp_path / "coco" / "annotations" / "train.json").read_text())["annotations"]
    assert np.array(ann["keypoints"]).reshape(-1, 3)[:, 2].tolist() == [1, 2, 1, 0]


def test_a_model_without_visibility_adds_nothing(tmp_path):
    from mmpx.api import PoseEstimator
    from mmpx.infer.inputs import Source
    from mmpx.infer.labelme_out import LabelmeSink
    from mmpx.infer.runner import run
    from mmpx.infer.sequence import SequenceOptions
    from mmpx.infer.track import TrackParams
    from mmpx.infer.trajectories import TrajectoryTable, read_trajectories
    from mmpx.runtime.ort import OnnxPoseModel
    from tests.onnx_model import NAMES, write_tiny_onnx

    onnx = write_tiny_onnx(tmp_path / "tiny.onnx")
    cv2.imwrite(str(tmp_path / "a.png"), np.full((48, 64, 3), 90, np.uint8))
    model = OnnxPoseModel(str(onnx))

    def whole(image):
        return np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32), np.ones(1, np.float32)

    sink = LabelmeSink(tmp_path / "pre", NAMES)
    summary = run([Source(tmp_path / "a.png", "a.png", "image")], model, whole, progress=False,
                  sequence=SequenceOptions(track=TrackParams()), save_tables=[tmp_path / "t.csv"], labelme=sink)
    assert "keypoint_visible" not in summary.records[0]
    assert "visible_prob" not in (tmp_path / "t.csv").read_text()
    doc = json.loads((tmp_path / "pre" / "a.json").read_text())
    assert all(set(s["flags"]) <= {"check"} for s in doc["shapes"])
    result = PoseEstimator(onnx)(tmp_path / "a.png")
    assert result.visible is None and "keypoint_visible" not in result.to_coco()[0]
    assert "visible" not in result.to_table()[0]

    # a table of both kinds: the rows without visibility have it empty, read back as NaN
    table = TrajectoryTable(NAMES)
    table.add("v", 0, 0.0, [1], np.zeros((1, 4, 2)), np.ones((1, 4)))
    table.add("v", 1, 0.1, [1], np.zeros((1, 4, 2)), np.ones((1, 4)), visible=np.full((1, 4), 0.25))
    table.write(tmp_path / "both.csv")
    back = read_trajectories(tmp_path / "both.csv")["visible_prob"]
    assert np.isnan(back[:4]).all() and back[4:].tolist() == [0.25] * 4
