"""``OnnxDetector`` without torch: mmdet's test path (resize, pad, normalise, per-level top-k, distance2bbox from
the priors, rescale, min_bbox_size, per-class NMS, max_per_img) on a hand-built ONNX graph whose outputs are known,
so every box below is worked out by hand; mmcv's NMS against a literal port of its C++ loop; bad files.

The parity with mmdet's own ``inference_detector`` on exported RTMDets is tests/mmpose_ext/deploy/test_det_export.py.
"""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.runtime.det import DET_FORMAT, OnnxDetector, batched_nms, grid_priors, nms, rescale_size
from mmpx.runtime.model_file import embed_sidecar

SIZE = 64  # input 64 x 64, strides 8/16/32: 64 + 16 + 4 priors
PRIORS, CLASSES = 84, 2
MEAN, STD = [103.53, 116.28, 123.675], [57.375, 57.12, 58.395]


def sidecar(**test_cfg) -> dict:
    return {
        "format": DET_FORMAT, "version": 1, "kind": "detector", "onnx": "det.onnx",
        "input": {"name": "input", "shape": [1, 3, SIZE, SIZE], "size": [SIZE, SIZE], "dynamic_batch": False},
        "outputs": [{"name": "scores", "shape": [1, PRIORS, CLASSES]}, {"name": "distances", "shape": [1, PRIORS, 4]}],
        "classes": ["car", "bus"], "strides": [8, 16, 32],
        "preprocess": {"mean": MEAN, "std": STD, "bgr_to_rgb": False, "resize_scale": [SIZE, SIZE],
                       "keep_ratio": True, "pad_value": 114.0},
        "test_cfg": {"score_thr": 0.001, "nms_pre": 1000, "iou_threshold": 0.65, "max_per_img": 100,
                     "min_bbox_size": 0.0, **test_cfg},
    }


def known_outputs() -> tuple[np.ndarray, np.ndarray]:
    """Scores and distances for a few priors (level 0: stride 8, 8 x 8 points; level 1 from 64; level 2 from 80)."""
    scores = np.zeros((1, PRIORS, CLASSES), np.float32)
    dists = np.ones((1, PRIORS, 4), np.float32)
    rows = {  # prior: (class, score, l, t, r, b)
        9: (0, 0.9, 4, 4, 12, 12),  # point (8, 8): box (4, 4, 20, 20) -> x2 (8, 8, 40, 40) in the image
        10: (0, 0.8, 10, 4, 6, 12),  # point (16, 8): (6, 4, 22, 20), IoU 0.78 with the first: suppressed
        11: (1, 0.7, 12, 4, 4, 12),  # point (24, 8): (12, 4, 28, 20), the other class: kept
        64 + 5: (1, 0.6, 100, 100, 100, 100),  # point (16, 16): clamped to the padded input (0, 0, 64, 64)
        12: (0, 0.0005, 2, 2, 2, 2),  # under score_thr
        80: (0, 0.5, 0, 0, 0, 5),  # point (0, 0): zero width, removed by min_bbox_size 0
    }
    for row, (label, score, *dist) in rows.items():
        scores[0, row, label] = score
        dists[0, row] = dist
    return scores, dists


def write_model(path, scores=None, dists=None, info=None, *, embed=True, outputs=("scores", "distances")):
    """An ONNX graph that returns constant scores and distances (the input is declared, not used)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if scores is None:
        scores, dists = known_outputs()
    nodes = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value, name + "_c"))
             for name, value in zip(outputs, (scores, dists), strict=True)]
    graph = helper.make_graph(
        nodes, "det", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, list(value.shape))
         for name, value in zip(outputs, (scores, dists), strict=True)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    if embed:
        embed_sidecar(path, info or sidecar())
    return path


def image(w=128, h=96) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_known_boxes_in_original_pixels(tmp_path):
    det = OnnxDetector(write_model(tmp_path / "det.onnx"))  # the sidecar inside the model
    boxes, scores, labels = det(image())  # 128 x 96 -> 64 x 48: scale factor 0.5
    np.testing.assert_allclose(boxes, [[8, 8, 40, 40], [24, 8, 56, 40], [0, 0, 128, 128]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.6], atol=1e-6)
    assert labels.tolist() == [0, 1, 1] and boxes.dtype == np.float32
    assert det.classes == ["car", "bus"]


def test_imports_no_training_stack(tmp_path):
    path = write_model(tmp_path / "det.onnx")
    code = ("import sys, numpy as np; from mmpx.runtime import OnnxDetector; "
            f"OnnxDetector({str(path)!r})(np.zeros((50, 80, 3), np.uint8)); "
            "print(sorted(m for m in ('torch', 'mmengine', 'mmcv', 'mmdet', 'mmpose_ext') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr[-2000:]


@pytest.mark.parametrize(("test_cfg", "kept"), [
    ({"max_per_img": 2}, [0.9, 0.7]),
    ({"nms_pre": 1}, [0.9, 0.6]),  # the best of each level before NMS; level 2's best has no width
    ({"iou_threshold": 0.8}, [0.9, 0.8, 0.7, 0.6]),  # IoU 0.78 is not above 0.8: both class-0 boxes stay
    ({"score_thr": 0.65}, [0.9, 0.7]),
    ({"min_bbox_size": -1, "score_thr": 0.45}, [0.9, 0.7, 0.6, 0.5]),  # no size filter: the zero-width box stays
])
def test_test_cfg_is_applied_as_mmdet_applies_it(tmp_path, test_cfg, kept):
    det = OnnxDetector(write_model(tmp_path / "det.onnx", info=sidecar(**test_cfg)))
    np.testing.assert_allclose(det(image())[1], kept, atol=1e-6)


def test_score_thr_override_and_batches(tmp_path):
    det = OnnxDetector(write_model(tmp_path / "det.onnx"), score_thr=0.75)
    results = det.detect([image(), image(64, 200)])
    assert [r[1].tolist() for r in results] == [[pytest.approx(0.9)]] * 2
    sx, sy = 20 / 64, 64 / 200  # 64 x 200 -> 20 x 64
    np.testing.assert_allclose(results[1][0], [[4 / sx, 4 / sy, 20 / sx, 20 / sy]], rtol=1e-5)
    assert det.detect([]) == []


def test_preprocess_is_mmdets_pipeline(tmp_path):
    det = OnnxDetector(write_model(tmp_path / "det.onnx"))
    picture = image(100, 50)
    chw, factor = det.preprocess(picture)
    (w, h), _ = rescale_size(100, 50, (SIZE, SIZE))
    assert (w, h) == (64, 32) and factor == (0.64, 0.64)
    resized = cv2.resize(picture, (64, 32), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    mean, std = np.array(MEAN, np.float32), np.array(STD, np.float32)
    np.testing.assert_array_equal(chw[:, :32, :].transpose(1, 2, 0), (resized - mean) / std)
    np.testing.assert_array_equal(chw[:, 32:, :].transpose(1, 2, 0), np.broadcast_to((114 - mean) / std,
                                                                                        (32, 64, 3)))
    assert chw.shape == (3, SIZE, SIZE) and chw.dtype == np.float32


def test_rescale_size_is_mmcvs():
    assert rescale_size(640, 427, (640, 640))[0] == (640, 427)
    assert rescale_size(500, 333, (320, 320))[0] == (320, 213)  # int(333 * 0.64 + 0.5)
    assert rescale_size(333, 500, (640, 384))[0] == (384, 577)  # the short edge to 384 binds (not 640 / 500)
    points, counts = grid_priors(64, 64, [8, 16, 32])
    assert counts == [64, 16, 4] and points[9].tolist() == [8, 8] and points[69].tolist() == [16, 16]


def _mmcv_nms(boxes, scores, thr):
    """mmcv/ops/csrc/pytorch/cpu/nms.cpp, line by line (offset 0)."""
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    select = [True] * len(boxes)
    for a in range(len(boxes)):
        if not select[a]:
            continue
        i = order[a]
        for b in range(a + 1, len(boxes)):
            if not select[b]:
                continue
            j = order[b]
            w = max(np.float32(0), min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            h = max(np.float32(0), min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = w * h
            if inter / (areas[i] + areas[j] - inter) > thr:
                select[b] = False
    return order[np.array(select)]


def test_nms_is_mmcvs():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 100, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (300, 2)).astype(np.float32)], axis=1)
    scores = rng.uniform(0, 1, 300).astype(np.float32)
    for thr in (0.3, 0.65):
        assert nms(boxes, scores, thr).tolist() == _mmcv_nms(boxes, scores, thr).tolist()
    assert nms(boxes, scores, 0.5, max_keep=7).tolist() == nms(boxes, scores, 0.5)[:7].tolist()
    labels = rng.integers(0, 3, 300)
    keep = batched_nms(boxes, scores, labels, 0.5)
    offset = boxes + labels[:, None].astype(np.float32) * (boxes.max() + 1)
    assert keep.tolist() == _mmcv_nms(offset, scores, 0.5).tolist()  # one NMS over shifted boxes, as mmcv
    for c in range(3):  # ...which is NMS within each class
        own = np.flatnonzero(labels == c)
        assert sorted(keep[labels[keep] == c].tolist()) == sorted(own[nms(boxes[own], scores[own], 0.5)].tolist())
    assert batched_nms(boxes[:0], scores[:0], labels[:0], 0.5).tolist() == []


def test_bad_files_and_inputs(tmp_path):
    with pytest.raises(MmpxError, match="does not exist"):
        OnnxDetector(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(MmpxError, match="not a readable ONNX model"):
        OnnxDetector(tmp_path / "junk.onnx")
    bare = write_model(tmp_path / "bare.onnx", embed=False)  # no sidecar inside, none beside it
    with pytest.raises(MmpxError, match=r"sidecar .*bare.json of the detector .* does not exist") as info:
        OnnxDetector(bare)
    assert "mmpx export onnx" in info.value.hint
    (tmp_path / "bare.json").write_text(json.dumps({"format": "mmpose-ext/onnx-pose"}))
    with pytest.raises(MmpxError, match="is a pose model"):
        OnnxDetector(bare)
    (tmp_path / "bare.json").write_text("{")
    with pytest.raises(MmpxError, match="not valid JSON"):
        OnnxDetector(bare)
    info = sidecar()
    del info["strides"]
    with pytest.raises(MmpxError, match="no 'strides' field"):
        OnnxDetector(write_model(tmp_path / "nostrides.onnx", info=info))
    info = sidecar()
    info["preprocess"]["std"] = [0, 1, 1]
    with pytest.raises(MmpxError, match="bad field"):
        OnnxDetector(write_model(tmp_path / "std.onnx", info=info))
    with pytest.raises(MmpxError, match=r"graph outputs \['simcc_x', 'simcc_y'\]"):
        OnnxDetector(write_model(tmp_path / "pose.onnx", outputs=("simcc_x", "simcc_y")))
    info = sidecar()
    info["classes"] = ["car"]
    with pytest.raises(MmpxError, match="84 priors x 2 classes, the sidecar 84 x 1"):
        OnnxDetector(write_model(tmp_path / "classes.onnx", info=info))
    det = OnnxDetector(write_model(tmp_path / "det.onnx"))
    with pytest.raises(MmpxError, match="H x W x 3 BGR image"):
        det(np.zeros((10, 10), np.uint8))


def test_detector_files_are_told_from_pose_models(tmp_path):
    from mmpx.runtime.det import is_detector_file, refuse_detector
    from tests.onnx_model import write_tiny_onnx

    det = write_model(tmp_path / "det.onnx")
    assert is_detector_file(det) and not is_detector_file(write_tiny_onnx(tmp_path / "p.onnx"))
    # mmpx export int8 takes the detector route: it asks for the detector's calibration images
    done = subprocess.run([sys.executable, "-m", "mmpx", "export", "int8", str(det), "--calib-ann",
                           str(tmp_path / "a.json"), "--calib-images", str(tmp_path)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode != 0 and "annotation file" in done.stderr and "a.json does not exist" in done.stderr
    assert not (tmp_path / "det.int8.onnx").exists()
    bare = write_model(tmp_path / "bare.onnx", embed=False)
    (tmp_path / "bare.json").write_text(json.dumps(sidecar()))
    with pytest.raises(MmpxError, match="exported detector"):
        refuse_detector(bare, "mmpx export int8")  # the sidecar beside it says so
    refuse_detector(write_tiny_onnx(tmp_path / "pose.onnx"), "mmpx export int8")  # a pose model passes


def test_boxes_for_infer_filter_as_mmdet_detector(tmp_path):
    from mmpx.runtime.det import OnnxBoxes

    path = write_model(tmp_path / "det.onnx")
    boxes, scores = OnnxBoxes(path, cat_ids=[0, 1], bbox_thr=0.3, nms_thr=0.3)(image())
    # MMPose's NMS (+1 areas) after the detector's: (24, 8, 56, 40) overlaps (8, 8, 40, 40) at 0.35 > 0.3
    np.testing.assert_allclose(boxes, [[8, 8, 40, 40], [0, 0, 128, 128]], atol=1e-4)
    np.testing.assert_allclose(scores, [0.9, 0.6], atol=1e-6)
    assert len(OnnxBoxes(path, cat_ids=[1], nms_thr=1.0)(image())[0]) == 2  # NMS off: both of class 1
    assert len(OnnxBoxes(path, cat_ids=[0], bbox_thr=0.95)(image())[0]) == 0
    with pytest.raises(MmpxError, match=r"--det-cat-id 2: the detector .* has 2 classes \(0..1: car, bus\)"):
        OnnxBoxes(path, cat_ids=[2])


def test_infer_with_both_models_exported_imports_no_training_stack(tmp_path):
    from tests.onnx_model import NAMES, write_tiny_onnx

    pose = write_tiny_onnx(tmp_path / "pose.onnx")
    det = write_model(tmp_path / "det.onnx")
    cv2.imwrite(str(tmp_path / "car.png"), image())
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mmpx", "infer", str(tmp_path / "car.png"),
                           "--backend", "onnxruntime", "--weights", str(pose), "--det-weights", str(det),
                           "--det-cat-id", "0", "--det-cat-id", "1", "--save-json", str(out), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert not imported & {"torch", "mmengine", "mmcv", "mmpose", "mmdet", "mmpose_ext"}, imported
    records = json.loads(out.read_text())
    assert len(records) == 2 and all(len(r["keypoints"]) == 3 * len(NAMES) for r in records)
    for bad, message in (([str(det), "--whole-image"], "neither --det-config nor --whole-image"),
                         ([str(tmp_path / "none.onnx")], "does not exist")):
        refused = subprocess.run([sys.executable, "-m", "mmpx", "infer", str(tmp_path / "car.png"), "--backend",
                                  "onnxruntime", "--weights", str(pose), "--det-weights", *bad, "--save-json",
                                  str(tmp_path / "r2.json")], capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr[-2000:]


def write_dynamic_model(path, info=None, dist=12.0):
    """A dynamic-size graph: each level's score is relu(x - 2) of channel 0 max-pooled over the stride (ceil
    mode, so a level has ceil(H / stride) x ceil(W / stride) priors, as RTMDet's), class 1 scores 0, and every
    prior's distances are ``dist``. Only white pixels (normalised 2.64) score: 0.64."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    def const(name, value):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(value), name + "_c"))

    nodes = [const("s0", np.array([0], np.int64)), const("s1", np.array([1], np.int64)),
             const("flat", np.array([0, -1, 1], np.int64)), const("two", np.array(2.0, np.float32)),
             const("zeros4", np.zeros((1, 1, 4), np.float32)), const("dist", np.array(dist, np.float32)),
             helper.make_node("Slice", ["input", "s0", "s1", "s1"], ["blue"])]
    for stride in (8, 16, 32):
        nodes += [helper.make_node("MaxPool", ["blue"], [f"p{stride}"], kernel_shape=[stride, stride],
                                   strides=[stride, stride], ceil_mode=1),
                  helper.make_node("Transpose", [f"p{stride}"], [f"t{stride}"], perm=[0, 2, 3, 1]),
                  helper.make_node("Reshape", [f"t{stride}", "flat"], [f"l{stride}"])]
    nodes += [helper.make_node("Concat", ["l8", "l16", "l32"], ["cat"], axis=1),
              helper.make_node("Sub", ["cat", "two"], ["shifted"]), helper.make_node("Relu", ["shifted"], ["car"]),
              helper.make_node("Mul", ["car", "zeros4"], ["zero4"]),
              helper.make_node("Slice", ["zero4", "s0", "s1", "two_i"], ["bus"]),
              helper.make_node("Concat", ["car", "bus"], ["scores"], axis=2),
              helper.make_node("Add", ["zero4", "dist"], ["distances"])]
    nodes.insert(0, const("two_i", np.array([2], np.int64)))
    graph = helper.make_graph(
        nodes, "det", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", "priors", CLASSES]),
         helper.make_tensor_value_info("distances", TensorProto.FLOAT, ["batch", "priors", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    if info is None:
        info = sidecar()
        info["input"].update(shape=[1, 3, "height", "width"], dynamic_size=True, dynamic_batch=True)
        info["preprocess"]["size_divisor"] = 32
    embed_sidecar(path, info)
    return path


def white_square(w, h, x, y, side=16) -> np.ndarray:
    picture = np.zeros((h, w, 3), np.uint8)
    picture[y:y + side, x:x + side] = 255
    return picture


def test_dynamic_size_pads_to_a_multiple_of_the_divisor(tmp_path):
    det = OnnxDetector(write_dynamic_model(tmp_path / "dyn.onnx"))
    assert det.dynamic_size and det.size_divisor == 32
    # 128 x 64 -> 64 x 32 (factor 0.5): the input is 64 x 32, not the 64 x 64 of the config's Pad
    picture = white_square(128, 64, 96, 48)  # white at (48..55, 24..31) after the resize
    chw, factor = det.preprocess(picture)
    assert chw.shape == (3, 32, 64) and factor == (0.5, 0.5)
    assert det.padded_size(50, 20) == (64, 32) and det.padded_size(64, 33) == (64, 64)
    boxes, scores, labels = det(picture)
    # one prior a level covers the white square: (48, 24) at stride 8, (48, 16) at 16, (32, 0) at 32; each box
    # is its point +- 12, clamped to the padded 64 x 32 input (y2 36 -> 32: the fixed input would keep 36)
    expected = [[36, 12, 60, 32], [36, 4, 60, 28], [20, 0, 44, 12]]
    assert sorted(boxes.tolist()) == sorted((np.array(expected, np.float32) * 2).tolist())  # in image pixels
    np.testing.assert_allclose(scores, [0.64] * 3, atol=0.01)
    assert labels.tolist() == [0, 0, 0]
    assert (64, 32) in det._grids and len(det.grid((64, 32))[0]) == 8 * 4 + 4 * 2 + 2 * 1


def test_dynamic_size_batches_of_mixed_sizes_equal_one_by_one(tmp_path):
    det = OnnxDetector(write_dynamic_model(tmp_path / "dyn.onnx"))
    pictures = [white_square(128, 64, 96, 48), white_square(96, 128, 10, 100), white_square(128, 64, 0, 0),
                white_square(300, 40, 150, 20)]
    together = det.detect(pictures)
    for got, picture in zip(together, pictures, strict=True):
        alone = det(picture)
        assert len(got[0]) and all(np.array_equal(a, b) for a, b in zip(got, alone, strict=True))
    assert [det.preprocess(p)[0].shape[1:] for p in pictures] == [(32, 64), (64, 64), (32, 64), (32, 64)]
    fixed = OnnxDetector(write_model(tmp_path / "fixed.onnx"))  # an old sidecar: the padded square as before
    assert not fixed.dynamic_size and fixed.preprocess(pictures[0])[0].shape == (3, SIZE, SIZE)


def test_dynamic_size_sidecar_must_fit_the_graph(tmp_path):
    info = sidecar()
    info["input"]["dynamic_size"] = True  # no preprocess.size_divisor
    with pytest.raises(MmpxError, match="bad field"):
        OnnxDetector(write_dynamic_model(tmp_path / "nodiv.onnx", info=info))
    info["preprocess"]["size_divisor"] = 32  # ...and a graph with a fixed input
    with pytest.raises(MmpxError, match="says dynamic_size but the graph's input is fixed at 64x64"):
        OnnxDetector(write_model(tmp_path / "fixed.onnx", info=info))
