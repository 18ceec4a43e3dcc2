"""The ONNX Runtime path is torch-free end to end: ``mmpx infer --backend onnxruntime --whole-image`` and
``mmpx export int8`` on a model built without torch import none of torch, mmengine, mmcv, mmpose, mmdet
(checked with ``python -X importtime``), and give the same keypoints as the Python API."""

from __future__ import annotations

import json
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import make_tiny_coco, run
from tests.onnx_model import NAMES, write_tiny_onnx

HEAVY = ("torch", "mmengine", "mmcv", "mmpose", "mmdet", "mmpose_ext")


def _imported(stderr: str) -> set[str]:
    """Top-level packages named in ``-X importtime`` output."""
    names = set()
    for line in stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("coco")
    make_tiny_coco(root, num_images=4, size=64)
    return root


def _mmpx(*args):
    return run([sys.executable, "-X", "importtime", "-m", "mmpx", *args])


def test_infer_onnxruntime_whole_image_imports_no_training_stack(model, data, tmp_path):
    out = tmp_path / "results.json"
    result = _mmpx("infer", str(data / "images"), "--weights", str(model), "--backend", "onnxruntime",
                   "--whole-image", "--save-json", str(out), "--out-dir", str(tmp_path / "drawn"), "--no-progress")
    assert result.returncode == 0, result.stderr[-3000:]
    imported = _imported(result.stderr)
    assert "onnxruntime" in imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))
    records = json.loads(out.read_text())
    assert len(records) == 4 and all(len(r["keypoints"]) == 3 * len(NAMES) for r in records)
    assert len(list((tmp_path / "drawn").glob("*.png"))) == 4

    from mmpx.runtime import OnnxPoseModel

    api = OnnxPoseModel(model)
    first = sorted(records, key=lambda r: r["file_name"])[0]
    image = cv2.imread(str(data / "images" / first["file_name"]))
    h, w = image.shape[:2]
    keypoints, scores = api.predict(image, np.array([[0, 0, w, h]], np.float32))
    got = np.array(first["keypoints"]).reshape(-1, 3)
    np.testing.assert_allclose(got[:, :2], keypoints[0], atol=1e-3)
    np.testing.assert_allclose(got[:, 2], scores[0], atol=1e-3)


def test_export_int8_imports_no_training_stack(model, data, tmp_path):
    out = tmp_path / "tiny.int8.onnx"
    result = _mmpx("export", "int8", str(model), "--calib-ann", str(data / "annotations.json"),
                   "--calib-images", str(data / "images"), "--out", str(out), "--calib-crops", "4")
    assert result.returncode == 0, result.stderr[-3000:]
    assert not _imported(result.stderr) & set(HEAVY)
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text())["quantization"]["calibration"]
    assert "int8 vs fp32" in result.stdout


def test_codec_without_numpy_port_is_a_clear_error_without_a_builder(model, tmp_path):
    from mmpx.errors import MmpxError
    from mmpx.runtime import OnnxPoseModel

    sidecar = json.loads(model.with_suffix(".json").read_text())
    sidecar["codec"] = dict(sidecar["codec"], type="RegressionLabel")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(sidecar))
    with pytest.raises(MmpxError, match="'RegressionLabel' has no numpy decoder") as info:
        OnnxPoseModel(model, sidecar=other)
    assert "codec_builder" in info.value.hint
    built = []
    OnnxPoseModel(model, sidecar=other, codec_builder=lambda cfg: built.append(cfg["type"]) or object())
    assert built == ["RegressionLabel"]


def test_infer_flip_and_threads_options(model, data, tmp_path):
    """--no-flip-test overrides the sidecar's flip_test (on here), --threads sets ONNX Runtime's threads."""
    from mmpx.runtime import OnnxPoseModel

    results = {}
    for flag in ("--flip-test", "--no-flip-test"):
        out = tmp_path / f"{flag}.json"
        result = run([sys.executable, "-m", "mmpx", "infer", str(data / "images" / "000.png"), "--weights",
                      str(model), "--backend", "onnxruntime", "--whole-image", "--save-json", str(out),
                      "--no-progress", flag, "--threads", "1"])
        assert result.returncode == 0, result.stderr[-2000:]
        results[flag] = np.array(json.loads(out.read_text())[0]["keypoints"]).reshape(-1, 3)
    image = cv2.imread(str(data / "images" / "000.png"))
    box = np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
    for flag, flip in (("--flip-test", True), ("--no-flip-test", False)):
        keypoints, _ = OnnxPoseModel(model, threads=1, flip_test=flip).predict(image, box)
        np.testing.assert_allclose(results[flag][:, :2], keypoints[0], atol=1e-3)
    assert not np.allclose(results["--flip-test"], results["--no-flip-test"])


def test_predict_reuses_its_buffer_and_matches_forward(model, data):
    """predict() writes crops (and their mirror images) into one reused buffer; same result as forward()."""
    from mmpx.runtime import OnnxPoseModel

    api = OnnxPoseModel(model)
    image = cv2.imread(str(data / "images" / "001.png"))
    boxes = np.array([[0, 0, 40, 50], [10, 5, 64, 64], [3, 3, 30, 30]], np.float32)
    keypoints, scores = api.predict(image, boxes)
    buffer = api._inputs
    api.predict(image, boxes[:1])
    assert api._inputs is buffer  # fewer boxes: the same buffer, no new allocation
    inputs, center, scale = api.preprocess(image, boxes)
    k2, s2 = api.decode(api.forward(inputs))
    from mmpx.runtime.decode import to_image_space

    np.testing.assert_array_equal(to_image_space(k2, api.input_size, center, scale).astype(np.float32), keypoints)
    np.testing.assert_array_equal(s2.astype(np.float32), scores)


def test_model_and_sidecar_are_replaced_together(model, tmp_path, monkeypatch):
    """The sidecar travels inside the ONNX file (one rename). A failure writing the JSON copy, or a kill before
    it, leaves a complete new model that reads its own sidecar; the earlier writer removed the new model then,
    and a kill between its two renames left a new graph beside the old sidecar."""
    import shutil

    from mmpx.errors import MmpxError
    from mmpx.runtime import OnnxPoseModel
    from mmpx.runtime.model_file import SIDECAR_KEY, publish, staged_path

    target = tmp_path / "m.onnx"
    shutil.copy(model, target)
    old_sidecar = json.loads(model.with_suffix(".json").read_text())
    shutil.copy(model.with_suffix(".json"), target.with_suffix(".json"))

    new_model = write_tiny_onnx(tmp_path / "src" / "new.onnx", seed=1)
    new_sidecar = dict(json.loads(new_model.with_suffix(".json").read_text()), test_cfg={"flip_test": False})
    staged = staged_path(target)
    shutil.copy(new_model, staged)

    import mmpx.runtime.model_file as model_file

    def full_disk(path, text):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(model_file, "write_text", full_disk)
    with pytest.raises(MmpxError, match="its sidecar is inside it") as info:
        publish(staged, target, new_sidecar, target.with_suffix(".json"))
    assert "model works as it is" in info.value.hint
    assert json.loads(target.with_suffix(".json").read_text()) == old_sidecar  # the stale copy...
    loaded = OnnxPoseModel(target)  # ...is not what mmpx reads: the model and its own sidecar
    assert loaded.sidecar == new_sidecar and loaded.flip_test is False
    import onnx

    assert any(p.key == SIDECAR_KEY for p in onnx.load(str(target)).metadata_props)
    assert not staged.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "m.onnx", "src"]

    monkeypatch.undo()
    staged = staged_path(target)
    shutil.copy(new_model, staged)
    publish(staged, target, new_sidecar, target.with_suffix(".json"))
    assert json.loads(target.with_suffix(".json").read_text()) == new_sidecar
