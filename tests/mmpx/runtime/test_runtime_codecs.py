"""A codec without a numpy decoder: `mmpx infer --backend onnxruntime` hands OnnxPoseModel MMPose's own codec
(``mmpose_ext.deploy.build_codec``), which decodes like MMPose's model does."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from mmpx.runtime import OnnxPoseModel
from tests.helpers import make_tiny_coco, run
from tests.onnx_model import NAMES, write_tiny_onnx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def test_megvii_heatmap_codec_through_mmpose(tmp_path):
    from mmpose_ext.deploy import build_codec

    model = write_tiny_onnx(tmp_path / "m.onnx")
    sidecar = json.loads(model.with_suffix(".json").read_text())
    sidecar["codec"] = dict(type="MegviiHeatmap", input_size=[32, 32], heatmap_size=[8, 8], kernel_size=11)
    model.with_suffix(".json").write_text(json.dumps(sidecar))
    make_tiny_coco(tmp_path / "coco", num_images=2, size=64)

    out = tmp_path / "r.json"
    result = run([sys.executable, "-m", "mmpx", "infer", str(tmp_path / "coco" / "images"), "--weights", str(model),
                  "--backend", "onnxruntime", "--whole-image", "--save-json", str(out), "--no-progress"])
    assert result.returncode == 0, result.stderr[-2000:]
    records = json.loads(out.read_text())
    assert len(records) == 2 and all(len(r["keypoints"]) == 3 * len(NAMES) for r in records)

    api = OnnxPoseModel(model, codec_builder=build_codec)
    crops = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    outputs = api.forward(crops)
    keypoints, scores = api.decode(outputs)
    codec = build_codec(sidecar["codec"])
    for n in range(2):
        k, s = codec.decode(outputs[0][n])
        np.testing.assert_allclose(keypoints[n], k[0, :, :2], atol=1e-5)
        np.testing.assert_allclose(scores[n], s[0], atol=1e-5)
