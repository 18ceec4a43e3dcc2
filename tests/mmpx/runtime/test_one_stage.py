"""``OnnxOneStage`` without torch: MMPose's one-stage test path (``BottomupResize``: fit, centre, pad; mean/std; score
threshold; NMS; clamp to the input; back to image pixels) on a hand-built ONNX graph whose outputs are known, so
every box below is worked out by hand; the kind of model a file is; bad files and sidecars.

The parity with MMPose's own ``model.predict`` on an exported RTMO is tests/mmpose_ext/deploy/test_rtmo_export.py.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.runtime.model_file import ONE_STAGE_FORMAT, embed_sidecar
from mmpx.runtime.one_stage import OnnxOneStage

SIZE, TOP_K, KPTS = 64, 4, 2
MEAN, STD = [10.0, 20.0, 30.0], [2.0, 4.0, 5.0]


def sidecar(**test_cfg) -> dict:
    return {
        "format": ONE_STAGE_FORMAT, "version": 1, "kind": "one-stage", "onnx": "one.onnx",
        "input": {"name": "input", "shape": [1, 3, SIZE, SIZE], "size": [SIZE, SIZE], "dynamic_batch": False},
        "outputs": [{"name": "boxes", "shape": [1, TOP_K, 4]}],
        "model": {"type": "BottomupPoseEstimator", "head": "RTMOHead", "top_k": TOP_K},
        "preprocess": {"mean": MEAN, "std": STD, "bgr_to_rgb": False, "resize": "BottomupResize",
                       "pad_value": [114.0, 114.0, 114.0]},
        "test_cfg": {"score_thr": 0.1, "nms_thr": 0.65, **test_cfg},
        "dataset_meta": {"dataset_name": "two", "num_keypoints": KPTS, "keypoint_id2name": {"0": "a", "1": "b"}},
    }


def known_outputs() -> dict[str, np.ndarray]:
    """The best anchors, best first, in input pixels (64 x 64)."""
    boxes = np.array([[[8, 8, 40, 40],  # kept
                       [10, 8, 42, 40],  # IoU 0.88 with the first: suppressed at nms_thr 0.65
                       [40, 40, 80, 70],  # clamped to the input: (40, 40, 64, 64)
                       [0, 0, 4, 4]]], np.float32)  # under score_thr
    scores = np.array([[0.9, 0.8, 0.5, 0.05]], np.float32)
    keypoints = np.array([[[[10, 10], [30, 30]], [[12, 10], [32, 30]], [[50, 50], [70, 66]], [[1, 1], [2, 2]]]],
                         np.float32)
    keypoint_scores = np.array([[[0.7, 0.6], [0.5, 0.4], [0.3, 0.2], [0.1, 0.0]]], np.float32)
    anchors = np.array([[3, 4, 20, 0]], np.int64)
    return {"boxes": boxes, "scores": scores, "keypoints": keypoints, "keypoint_scores": keypoint_scores,
            "anchors": anchors}


def write_model(path, info=None, outputs=None):
    """An ONNX graph that returns constant outputs (the input is declared, not used) with its sidecar inside."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    outputs = outputs or known_outputs()
    nodes = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_c"))
             for name, value in outputs.items()]
    types = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int64): TensorProto.INT64}
    graph = helper.make_graph(
        nodes, "one_stage", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(name, types[value.dtype], list(value.shape)) for name, value in outputs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    embed_sidecar(path, info or sidecar())
    return path


def image(w=128, h=64, value=200) -> np.ndarray:
    return np.full((h, w, 3), value, np.uint8)


def test_known_instances_in_image_pixels(tmp_path):
    model = OnnxOneStage(write_model(tmp_path / "one.onnx"))
    got = model.predict(image())  # 128 x 64 fits 64 x 32, centred: x = 2 * x_in, y = 2 * y_in - 32
    np.testing.assert_allclose(got.boxes, [[16, -16, 80, 48], [80, 48, 128, 96]], atol=1e-4)
    np.testing.assert_allclose(got.scores, [0.9, 0.5], atol=1e-6)
    np.testing.assert_allclose(got.keypoints, [[[20, -12], [60, 28]], [[100, 68], [140, 100]]], atol=1e-4)
    np.testing.assert_allclose(got.keypoint_scores, [[0.7, 0.6], [0.3, 0.2]], atol=1e-6)
    assert len(got) == 2 and got.boxes.dtype == np.float32 and got.keypoints.shape == (2, KPTS, 2)
    assert not got.truncated  # the 4th (last) anchor is under score_thr: nothing was cut by the graph's top_k
    assert OnnxOneStage(write_model(tmp_path / "all.onnx"), score_thr=0.01).predict(image()).truncated
    assert model.predict_batch([image(), image()])[1].scores.tolist() == got.scores.tolist()
    assert model.predict_batch([]) == []


@pytest.mark.parametrize(("options", "kept"), [
    ({"nms_thr": 1.0}, [0.9, 0.8, 0.5]),  # no NMS
    ({"nms_thr": 0.9}, [0.9, 0.8, 0.5]),  # IoU 0.88 is not above 0.9
    ({"score_thr": 0.85}, [0.9]),
    ({"score_thr": 0.0}, [0.9, 0.5, 0.05]),
])
def test_thresholds(tmp_path, options, kept):
    path = write_model(tmp_path / "one.onnx")
    np.testing.assert_allclose(OnnxOneStage(path, **options).predict(image()).scores, kept, atol=1e-6)
    from_sidecar = OnnxOneStage(write_model(tmp_path / "cfg.onnx", sidecar(**options)))
    np.testing.assert_allclose(from_sidecar.predict(image()).scores, kept, atol=1e-6)


def test_input_is_centred_and_normalised(tmp_path):
    model = OnnxOneStage(write_model(tmp_path / "one.onnx"))
    chw, center, scale = model.preprocess(image(w=128, h=64, value=200))
    assert chw.shape == (3, SIZE, SIZE) and chw.dtype == np.float32
    np.testing.assert_allclose(center, [64, 32])
    np.testing.assert_allclose(scale, [128, 128])
    pad = (114 - np.array(MEAN)) / np.array(STD)
    inside = (200 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(chw[:, :15, :].reshape(3, -1).mean(1), pad, atol=1e-4)  # 16 rows above the image
    np.testing.assert_allclose(chw[:, 17:47, :].reshape(3, -1).mean(1), inside, atol=1e-4)
    np.testing.assert_allclose(chw[:, 49:, :].reshape(3, -1).mean(1), pad, atol=1e-4)
    tall, center, scale = model.preprocess(image(w=32, h=64))  # fits 32 x 64: pad left and right
    np.testing.assert_allclose(scale, [64, 64])
    np.testing.assert_allclose(tall[:, :, :15].mean(axis=(1, 2)), pad, atol=1e-4)


def test_other_kinds_of_model_are_named(tmp_path):
    from mmpx.runtime.ort import OnnxPoseModel
    from tests.mmpx.runtime.test_det import write_model as write_detector
    from tests.onnx_model import write_tiny_onnx

    with pytest.raises(MmpxError, match=r"pose.onnx is a top-down pose model .*, not a one-stage model"):
        OnnxOneStage(write_tiny_onnx(tmp_path / "pose.onnx"))
    with pytest.raises(MmpxError, match=r"det.onnx is a detector, not a one-stage model") as info:
        OnnxOneStage(write_detector(tmp_path / "det.onnx"))
    assert "OnnxDetector" in info.value.hint
    with pytest.raises(MmpxError, match=r"one.onnx is a one-stage model .*, not a top-down pose model") as info:
        OnnxPoseModel(write_model(tmp_path / "one.onnx"))
    assert "OnnxOneStage" in info.value.hint
    from mmpx.runtime.det import OnnxDetector

    with pytest.raises(MmpxError, match=r"one.onnx is a one-stage model .*, not a detector"):
        OnnxDetector(tmp_path / "one.onnx")


def test_bad_files_and_sidecars(tmp_path):
    path = write_model(tmp_path / "one.onnx")
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(path.read_bytes()[:100])
    with pytest.raises(MmpxError, match="not a readable ONNX model"):
        OnnxOneStage(damaged)
    with pytest.raises(MmpxError, match="does not exist"):
        OnnxOneStage(tmp_path / "none.onnx")
    bad = sidecar()
    bad["preprocess"]["std"] = [1.0, 0.0, 1.0]
    bad["input"]["size"] = [SIZE, 10 ** 9]
    with pytest.raises(MmpxError, match=r"input.size = \[64, 1000000000\].*; preprocess.std = \[1.0, 0.0, 1.0\]"):
        OnnxOneStage(write_model(tmp_path / "bad.onnx", bad))
    outputs = known_outputs()
    outputs["kpts"] = outputs.pop("keypoints")
    with pytest.raises(MmpxError, match="a one-stage model has boxes, scores, keypoints, keypoint_scores"):
        OnnxOneStage(write_model(tmp_path / "renamed.onnx", outputs=outputs))
    with pytest.raises(MmpxError, match="H x W x 3 BGR image"):
        OnnxOneStage(path).predict(np.zeros((8, 8), np.uint8))


def test_imports_no_training_stack(tmp_path):
    path = write_model(tmp_path / "one.onnx")
    code = ("import sys, numpy as np; from mmpx.runtime.one_stage import OnnxOneStage; "
            f"OnnxOneStage({str(path)!r}).predict(np.zeros((50, 80, 3), np.uint8)); "
            "print(sorted(m for m in ('torch', 'mmengine', 'mmcv', 'mmpose', 'mmpose_ext') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-2000:]
