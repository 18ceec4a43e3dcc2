"""Inference with a model of two classes: each instance gets only its class's keypoints, names and
skeleton, on the torch path and the ONNX Runtime path alike (same keypoints), with its class's ``category_id``;
``mmpx infer --class`` (required for a multi-class model, refused for a one-class one), the COCO records, the
trajectory table's ``class`` column and ``--save-labelme`` pre-labels that ``mmpx convert labelme --classes`` reads
back. The model: ``mmpx configs new`` on the tiny street dataset, seeded random weights, exported to ONNX."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmpx.errors import MmpxError
from tests.helpers import mmpx
from tests.mmpx.configs.multiclass_data import BICYCLE, CAR, make_dataset

pytestmark = pytest.mark.stack

CAR_BOX = [0, 0, 64, 48]
BICYCLE_BOX = [60, 30, 128, 96]


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> dict:
    """The dataset, its config, a checkpoint whose meta carries the classes, and its ONNX export."""
    import torch

    import mmpose_ext  # noqa: F401  (registries before mmpose builds anything)
    from mmpose_ext.config import load_config
    from mmpose_ext.deploy.export import export_onnx
    from mmpose_ext.deploy.model import build_model
    from mmpose_ext.registry import DATASETS

    root = tmp_path_factory.mktemp("street")
    data = make_dataset(root / "data")
    config = root / "street.py"
    done = mmpx("configs", "new", "--data", str(data), "--model", "rtmpose-t", "--out", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    cfg = load_config(config)
    torch.manual_seed(0)
    model = build_model(cfg)
    meta = DATASETS.build(cfg.val_dataloader.dataset).metainfo  # MultiClassCocoDataset: with its classes
    assert [c["name"] for c in meta["classes"]] == ["car", "bicycle"]
    ckpt = root / "street.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": meta}}, ckpt)
    onnx = export_onnx(config, ckpt, root / "street.onnx").onnx_path
    return dict(root=root, data=data, config=config, ckpt=ckpt, onnx=onnx)


def _image(street) -> np.ndarray:
    import cv2

    return cv2.imread(str(street["data"] / "images" / "street_0.png"))


def test_each_instance_its_class_torch_and_onnx(street):
    from mmpx.api import PoseEstimator

    torch_pose = PoseEstimator(str(street["config"]), str(street["ckpt"]), class_name="car", flip_test=True)
    onnx_pose = PoseEstimator(str(street["onnx"]), class_name="car", flip_test=True)
    assert torch_pose.classes == onnx_pose.classes == ["car", "bicycle"]
    image = _image(street)
    for name, own, box, cid in (("car", CAR, CAR_BOX, 1), ("bicycle", BICYCLE, BICYCLE_BOX, 2)):
        results = [pose(image, bboxes=[box, box], class_name=name) for pose in (torch_pose, onnx_pose)]
        for r in results:
            assert r.keypoints.shape == (2, 4, 2) and r.scores.shape == (2, 4)
            assert r.names == own and r.classes == [name, name] and r.category_id == cid
            record = r.to_coco()[0]
            assert record["category_id"] == cid and record["category"] == name and len(record["keypoints"]) == 12
            assert {row["class"] for row in r.to_table()} == {name}
            assert {row["keypoint"] for row in r.to_table()} == set(own)
            doc = r.to_labelme("street_0.png")
            assert [s["label"] for s in doc["shapes"] if s["shape_type"] == "rectangle"] == [name, name]
            assert {s["label"] for s in doc["shapes"] if s["shape_type"] == "point"} <= set(own)
            assert r.draw().shape == image.shape
        np.testing.assert_allclose(results[0].keypoints, results[1].keypoints, atol=1e-3)
        np.testing.assert_allclose(results[0].scores, results[1].scores, atol=1e-3)
        # the class's block of the union, exactly: nothing of the other class
        union_k, union_s = onnx_pose._union.predict(image, np.array([box], np.float32))
        start = 0 if name == "car" else 4
        np.testing.assert_array_equal(results[1].keypoints[:1], union_k[:, start:start + 4])
        assert union_k.shape[1] == 8
    maps = torch_pose(image, bboxes=[BICYCLE_BOX], class_name="bicycle", heatmaps=True).heatmaps
    assert maps is None or maps.shape[0] == 4  # the class's heatmaps only (SimCC gives none)
    meta = onnx_pose.dataset_meta  # the class's own skeleton and flip partners, from 0
    assert meta["skeleton_links"] == [(0, 1), (2, 3)] and list(meta["flip_indices"]) == [1, 0, 3, 2]


def test_video_frames_batched(street, tmp_path):
    """Crops of several frames in one run (ONNX Runtime's batching, torch's) cut to the class, the same keypoints."""
    import cv2

    from mmpx.api import PoseEstimator, trajectories

    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5, (128, 96))
    for i in range(4):
        writer.write(cv2.imread(str(street["data"] / "images" / f"street_{i}.png")))
    writer.release()
    runs = [list(PoseEstimator(*model, class_name="bicycle").run(video, track=True, batch_frames=4))
            for model in ((str(street["config"]), str(street["ckpt"])), (str(street["onnx"]),))]
    assert [len(r) for r in runs] == [4, 4]
    for a, b in zip(*runs, strict=True):
        assert a.keypoints.shape == b.keypoints.shape == (1, 4, 2) and a.classes == ["bicycle"]
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    rows = trajectories(runs[1]).rows()
    assert {r["class"] for r in rows} == {"bicycle"} and {r["keypoint"] for r in rows} == set(BICYCLE)


def test_class_rules(street, tmp_path):
    from mmpx.api import PoseEstimator

    pose = PoseEstimator(str(street["onnx"]))  # a multi-class model without a class: each call must name one
    with pytest.raises(MmpxError, match=r"2 classes \(car, bicycle\).*class_name="):
        pose(_image(street))
    with pytest.raises(MmpxError, match="'truck': not a class of the model"):
        PoseEstimator(str(street["onnx"]), class_name="truck")
    assert pose(_image(street), class_name="bicycle").names == BICYCLE
    with pytest.raises(MmpxError, match="the model has one class"):
        PoseEstimator("configs/carpose/rtmpose-t_carpose-256x256.py", class_name="car")
    images = street["data"] / "images"
    done = mmpx("infer", str(images / "street_0.png"), "--backend", "onnxruntime", "--weights", str(street["onnx"]),
                "--whole-image", "--save-json", str(tmp_path / "r.json"))
    assert done.returncode != 0 and "say which class the boxes are with --class NAME" in done.stdout + done.stderr


def test_sidecar_classes_checked(street, tmp_path):
    from mmpx.runtime.ort import OnnxPoseModel

    sidecar = json.loads(street["onnx"].with_suffix(".json").read_text())
    assert [(c["id"], c["name"], c["keypoints"]) for c in sidecar["dataset_meta"]["classes"]] == [
        (1, "car", CAR), (2, "bicycle", BICYCLE)]
    sidecar["dataset_meta"]["classes"][1]["keypoints"] = BICYCLE[:3]  # a block that is not the model's
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sidecar))
    with pytest.raises(MmpxError, match="dataset_meta.classes"):
        OnnxPoseModel(street["onnx"], sidecar=bad)


def test_infer_outputs_and_labelme_read_back(street, tmp_path):
    """--class with the JSON, the trajectory table and the pre-labels; both classes' pre-labels in one folder are
    read back by convert labelme --classes."""
    images = street["data"] / "images"
    labels = tmp_path / "prelabels"
    for name, image in (("car", "street_0.png"), ("bicycle", "street_1.png")):
        done = mmpx("infer", str(images / image), "--backend", "onnxruntime", "--weights", str(street["onnx"]),
                    "--whole-image", "--class", name, "--save-json", str(tmp_path / f"{name}.json"),
                    "--save-labelme", str(labels), "--track", "--save-csv", str(tmp_path / f"{name}.csv"),
                    "--kpt-thr", "0", "--no-progress", "--out-dir", str(tmp_path / "drawn"))
        assert done.returncode == 0, done.stdout + done.stderr
        (record,) = json.loads((tmp_path / f"{name}.json").read_text())
        assert record["category_id"] == (1 if name == "car" else 2) and record["category"] == name
        assert len(record["keypoints"]) == 12
        header, *rows = (tmp_path / f"{name}.csv").read_text().splitlines()
        cols = header.split(",")
        assert cols[cols.index("track_id") + 1] == "class" and len(rows) == 4
        assert {r.split(",")[cols.index("class")] for r in rows} == {name}
        assert (tmp_path / "drawn" / image).is_file()
    out = tmp_path / "converted"
    done = mmpx("convert", "labelme", str(labels), str(out), "--classes", "car,bicycle", "--metainfo",
                str(street["data"] / "metainfo.py"), "--val-ratio", "0")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads((out / "annotations" / "train.json").read_text())
    assert [(c["id"], c["keypoints"]) for c in doc["categories"]] == [(1, CAR), (2, BICYCLE)]
    assert sorted(a["category_id"] for a in doc["annotations"]) == [1, 2]
    assert all(len(a["keypoints"]) == 12 for a in doc["annotations"])


def test_classes_from_the_config_when_the_checkpoint_has_none(street):
    """A checkpoint without ``classes`` (MMPose's parser drops them): they come from the config's metainfo file,
    for inference and for the ONNX sidecar alike (the same function)."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy.model import dataset_meta
    from mmpx.infer.classes import model_classes

    cfg = load_config(street["config"])
    plain = parse_pose_metainfo(dict(from_file=str(street["data"] / "metainfo.py")))
    assert "classes" not in plain
    for meta in (dataset_meta(plain, cfg, street["config"]), dataset_meta(None, cfg, street["config"])):
        assert [(c.name, c.start, c.stop) for c in model_classes(meta)] == [("car", 0, 4), ("bicycle", 4, 8)]


def test_suggest_with_a_class(street, tmp_path):
    """mmpx suggest --class: pre-labels of the class (its rectangle label and keypoint names)."""
    out = tmp_path / "suggested"
    done = mmpx("suggest", str(street["data"] / "images"), "--out", str(out), "--n", "2", "--backend",
                "onnxruntime", "--weights", str(street["onnx"]), "--whole-image", "--class", "bicycle",
                "--kpt-thr", "0", "--no-progress")
    assert done.returncode == 0, done.stdout + done.stderr
    docs = [json.loads(p.read_text()) for p in out.rglob("*.json") if p.name != "suggest.json"]
    assert len(docs) == 2
    for doc in docs:
        shapes = doc["shapes"]
        assert [s["label"] for s in shapes if s["shape_type"] == "rectangle"] == ["bicycle"]
        assert {s["label"] for s in shapes if s["shape_type"] == "point"} <= set(BICYCLE)


def test_save_as_the_class_skeleton(street, tmp_path):
    """--save-as / save_predictions: one skeleton per file, the class's own."""
    sio = pytest.importorskip("sleap_io", reason="the formats extra (sleap-io) is not installed")
    from mmpx.api import PoseEstimator, save_predictions

    pose = PoseEstimator(str(street["onnx"]), class_name="car")
    path = save_predictions(pose.run(street["data"] / "images"), tmp_path / "cars.slp", kpt_thr=0)
    (skeleton,) = sio.load_file(str(path)).skeletons
    assert [n.name for n in skeleton.nodes] == CAR
    assert sorted(tuple(n.name for n in e) for e in skeleton.edges) == [("left_front", "right_front"),
                                                                       ("left_rear", "right_rear")]
