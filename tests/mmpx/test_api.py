"""The Python API: on the torch-free path an exported ONNX model on real images, a folder and a video, results as
arrays, drawings, COCO records and a table; on the torch path the same keypoints as MMPose's tutorial."""

from __future__ import annotations

import importlib.util
import json

import cv2
import numpy as np
import pytest

from mmpx.api import PoseEstimator, PoseResult, save_coco
from mmpx.errors import MmpxError
from mmpx.infer.results import instance_records
from mmpx.runtime import OnnxPoseModel
from tests.helpers import write_tiny_config
from tests.onnx_model import NAMES, write_tiny_onnx


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_onnx(tmp_path_factory.mktemp("api") / "tiny.onnx")


@pytest.fixture(scope="module")
def images(shared_data):
    return sorted((shared_data / "mmpose-testdata" / "coco").glob("*.jpg"))[:3]


def test_one_image_with_boxes_matches_the_runtime(model, images):
    pose = PoseEstimator(model)
    image = cv2.imread(str(images[0]))
    h, w = image.shape[:2]
    boxes = np.array([[0, 0, w / 2, h / 2], [w / 4, h / 4, w, h]], np.float32)
    result = pose(images[0], bboxes=boxes)
    expected_kpts, expected_scores = OnnxPoseModel(str(model)).predict(image, boxes)
    assert isinstance(result, PoseResult) and len(result) == 2 and result.names == NAMES
    np.testing.assert_allclose(result.keypoints, expected_kpts)
    np.testing.assert_allclose(result.scores, expected_scores)
    assert result.keypoints.shape == (2, 4, 2) and result.bboxes.shape == (2, 4)
    assert result.to_coco(7) == instance_records(7, str(images[0]), expected_kpts, expected_scores, boxes,
                                                 np.ones(2, np.float32))
    rows = result.to_table()
    assert len(rows) == 8 and rows[5] == dict(image=str(images[0]), instance=1, keypoint=NAMES[1],
                                              x=float(expected_kpts[1, 1, 0]), y=float(expected_kpts[1, 1, 1]),
                                              score=float(expected_scores[1, 1]), bbox_score=1.0)
    drawn = result.draw(kpt_thr=0.0, draw_bbox=True)
    assert drawn.shape == image.shape and (drawn != image).any() and (result.image == image).all()


def test_whole_image_array_folder_and_video(model, images, tmp_path):
    pose = PoseEstimator(model)
    array = cv2.imread(str(images[1]))
    whole = pose(array)  # no detector: the whole image is the box
    h, w = array.shape[:2]
    np.testing.assert_allclose(whole.bboxes, [[0, 0, w, h]])
    clip = tmp_path / "in" / "clip.avi"
    clip.parent.mkdir()
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for i in range(3):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    for image in images:
        (tmp_path / "in" / image.name).write_bytes(image.read_bytes())
    results = list(pose.run(tmp_path / "in"))
    assert [r.name for r in results] == [*(i.name for i in images), *(f"clip.avi#frame={i}" for i in range(3))]
    out = save_coco(iter(results), tmp_path / "r.json")
    records = json.loads(out.read_text())
    assert [r["image_id"] for r in records] == [1, 2, 3, 4, 5, 6] and records[3]["file_name"] == "clip.avi#frame=0"


def test_bad_inputs_are_clear_errors(model, tmp_path):
    pose = PoseEstimator(model)
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    with pytest.raises(MmpxError, match=r"broken\.jpg: not a readable image"):
        pose(tmp_path / "broken.jpg")
    with pytest.raises(MmpxError, match=r"expected an image path or a BGR array \(H, W, 3\), got ndarray of shape"):
        pose(np.zeros((4, 4)))
    with pytest.raises(MmpxError, match="heatmaps=True: this backend gives no heatmaps"):
        pose(np.zeros((8, 8, 3), np.uint8), heatmaps=True)
    detected = PoseEstimator(model, detector=lambda image: (np.zeros((0, 4), np.float32), np.zeros(0, np.float32)))
    assert len(detected(np.zeros((8, 8, 3), np.uint8))) == 0  # a detector that finds nothing: no instance


def test_prelabel_and_suggest_from_python(model, images, tmp_path):
    """``PoseResult.to_labelme`` is the file ``--save-labelme`` writes; ``PoseEstimator.suggest`` refuses a model
    that flips by itself and writes its picks otherwise."""
    from mmpx.convert import convert_labelme

    pose = PoseEstimator(str(model), flip_test=False)
    first = images[0]
    result = pose(first)
    folder = tmp_path / "pre"
    folder.mkdir()
    (folder / first.name).write_bytes(first.read_bytes())
    (folder / first.with_suffix(".json").name).write_text(json.dumps(result.to_labelme(first.name)))
    doc = json.loads((folder / first.with_suffix(".json").name).read_text())
    assert [s["label"] for s in doc["shapes"] if s["shape_type"] == "point"] == \
        [n for n, (x, y) in zip(result.names, result.keypoints[0], strict=True)
         if 0 <= x <= result.image.shape[1] and 0 <= y <= result.image.shape[0]]
    assert convert_labelme(folder, tmp_path / "coco", keypoints=result.names, val_ratio=0).files_converted == 1
    report = pose.suggest(images, tmp_path / "next", n=2)
    assert len(report.chosen) == 2 and (tmp_path / "next" / "suggest.json").is_file()
    with pytest.raises(MmpxError, match="flip test"):
        PoseEstimator(str(model), flip_test=True).suggest(images, tmp_path / "other", n=2)
    assert not (tmp_path / "other").exists()


@pytest.mark.stack
def test_same_keypoints_as_mmposes_tutorial(tmp_path, tiny_coco):
    """The torch path against MMPose's tutorial: `init_model` + `inference_topdown` + `merge_data_samples` give the
    same keypoints as `PoseEstimator(config, checkpoint)(image, bboxes)`."""
    import mmpose_ext  # noqa: F401  (compat fixes first: mmpose then imports without torchvision)

    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    import torch
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    with config.open("a") as f:  # an inference pipeline, as MMPose's configs have (no targets to encode)
        f.write("test_dataloader = dict(val_dataloader, dataset=dict(dataset, test_mode=True, pipeline=["
                "dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), "
                "dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='PackPoseInputs')]))\n")
    model = init_model(str(config), None, device="cpu")
    ckpt = tmp_path / "w.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
    image = str(tiny_coco / "images" / "000.png")
    boxes = np.array([[4, 4, 60, 70], [10, 20, 90, 90]], np.float32)

    # MMPose's tutorial
    mm = init_model(str(config), str(ckpt), device="cpu")
    merged = merge_data_samples(inference_topdown(mm, image, boxes, bbox_format="xyxy"))
    # mmpose-ext
    result = PoseEstimator(config, ckpt)(image, bboxes=boxes)

    np.testing.assert_allclose(result.keypoints, merged.pred_instances.keypoints, atol=1e-3)
    np.testing.assert_allclose(result.scores, merged.pred_instances.keypoint_scores, atol=1e-4)
    assert len(result.names) == 17 and result.names[:2] == ["nose", "left_eye"]  # CocoDataset's metainfo
    with_maps = PoseEstimator(config, ckpt)(image, bboxes=boxes[:1], heatmaps=True)
    assert with_maps.heatmaps is not None and len(with_maps) == 1


@pytest.mark.parametrize("suffix", [".slp", ".json", ".csv", ".nwb"])
def test_save_predictions_as_the_cli_does(model, images, tmp_path, suffix):
    """``save_predictions`` writes what ``mmpx infer --save-as`` writes: read back by sleap-io, the keypoints of
    the results above kpt_thr; the suffix is checked before the first result is taken, an image for NWB stops the
    run at its first result, an array's result (no file) is refused."""
    sio = pytest.importorskip("sleap_io", reason="the formats extra (sleap-io) is not installed")
    from mmpx.api import save_predictions

    pose = PoseEstimator(model)
    folder = tmp_path / "labeled-data" / "coco"  # DeepLabCut's layout: the CSV beside labeled-data reads back
    folder.mkdir(parents=True)
    for image in images:
        (folder / image.name).write_bytes(image.read_bytes())
    clip = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 5.0, (64, 48))
    for i in range(2):
        writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
    writer.release()
    target = tmp_path / f"preds{suffix}"
    if suffix == ".nwb":
        taken = []
        with pytest.raises(MmpxError, match="is an image"):
            save_predictions((taken.append(r) or r for r in pose.run([folder, clip])), target)
        assert len(taken) == 1 and not target.exists()
        results = list(pose.run(clip))
    else:
        tracked = importlib.util.find_spec("norfair") is not None  # tracks when the tracker is installed
        results = list(pose.run([folder, clip], track=tracked))
    # some points in, some out; halfway between the 3 decimals the records keep, so rounding moves none across
    thr = round(float(np.median(np.concatenate([r.scores.ravel() for r in results]))), 3) + 0.0005
    assert save_predictions(iter(results), target, kpt_thr=thr) == target
    labels = sio.load_file(str(target)) if suffix != ".csv" else sio.load_dlc(str(target))
    got = sorted(points for lf in labels.labeled_frames for inst in lf.instances
                 if (points := _points(inst.skeleton.node_names, inst.numpy(), np.ones(len(inst.numpy())), 0)))
    expected = sorted(points for r in results for k, s in zip(r.keypoints, r.scores, strict=True)
                      if (points := _points(r.names, k, s, thr)) and (suffix != ".csv" or r.source != "clip.avi"))
    assert got == expected and expected  # the clip's frames were not extracted for DeepLabCut's reader
    assert any(len(e) < len(NAMES) for e in expected)  # some points left out

    with pytest.raises(MmpxError, match="unknown format .txt"):
        save_predictions(_never(), tmp_path / "preds.txt")
    with pytest.raises(MmpxError, match="no image or video file"):
        save_predictions([pose(cv2.imread(str(images[0])))], tmp_path / f"array{suffix}")
    assert not (tmp_path / f"array{suffix}").exists() and not (tmp_path / "preds.txt").exists()


def _points(names, keypoints, scores, thr) -> list[tuple]:
    """The named points scoring ``thr`` or more, to 0.01 px (NaN: missing)."""
    return sorted((n, round(float(x), 2), round(float(y), 2))
                  for n, (x, y), s in zip(names, keypoints, scores, strict=True) if s >= thr and np.isfinite(x))


def _never():
    raise AssertionError("a result was taken")
    yield


def test_exported_detector_without_torch_and_with_the_clis_filters(tmp_path):
    """``PoseEstimator(pose.onnx, detector="det.onnx")``: the boxes are ``mmpx infer --det-weights``'s (the same
    class ids, score threshold and NMS), and neither torch nor the training stack is imported."""
    import subprocess
    import sys

    from mmpx.runtime.det import OnnxBoxes
    from tests.mmpx.runtime.test_det import image, write_model

    det = write_model(tmp_path / "det.onnx")
    pose_file = write_tiny_onnx(tmp_path / "pose.onnx")
    picture = image()
    for cat_ids, bbox_thr, nms_thr in (([0, 1], 0.3, 0.3), ([1], 0.3, 1.0), ([0], 0.95, 0.3)):
        pose = PoseEstimator(pose_file, detector=str(det), det_cat_ids=cat_ids, bbox_thr=bbox_thr, nms_thr=nms_thr)
        expected, expected_scores = OnnxBoxes(det, cat_ids=cat_ids, bbox_thr=bbox_thr, nms_thr=nms_thr)(picture)
        result = pose(picture)
        np.testing.assert_array_equal(result.bboxes, expected)
        np.testing.assert_array_equal(result.bbox_scores, expected_scores)
        assert len(result) == len(expected)
    assert len(PoseEstimator(pose_file, detector=det, det_cat_ids=[0, 1])(picture)) == 2  # a Path works too
    cv2.imwrite(str(tmp_path / "car.png"), picture)
    code = ("import sys; from mmpx.api import PoseEstimator; "
            f"r = PoseEstimator({str(pose_file)!r}, detector={str(det)!r}, det_cat_ids=[0, 1])"
            f"({str(tmp_path / 'car.png')!r}); print(len(r), "
            "sorted(m for m in ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmpose', 'mmpose_ext') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "2 []", done.stderr[-2000:]


def test_exported_detector_bad_uses(tmp_path):
    from tests.mmpx.runtime.test_det import write_model

    det = write_model(tmp_path / "det.onnx")
    pose_file = write_tiny_onnx(tmp_path / "pose.onnx")
    with pytest.raises(MmpxError, match="is an exported detector: it takes no det_weights"):
        PoseEstimator(pose_file, detector=det, det_weights=tmp_path / "det.pth")
    with pytest.raises(MmpxError, match=r"--det-cat-id 5: the detector .* has 2 classes"):
        PoseEstimator(pose_file, detector=det, det_cat_ids=[5])
    with pytest.raises(MmpxError, match="ONNX detector .*missing.onnx does not exist"):
        PoseEstimator(pose_file, detector=tmp_path / "missing.onnx")
    with pytest.raises(MmpxError, match=r"det\.onnx is a detector: pass it as --det-weights / detector="):
        PoseEstimator(det)  # the two swapped
    with pytest.raises(MmpxError, match=r"pose\.onnx is a pose model"):
        PoseEstimator(pose_file, detector=pose_file)
