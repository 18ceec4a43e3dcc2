"""A tiny top-down heatmap model as an ONNX file plus the sidecar ``mmpx export onnx`` writes, built with
``onnx.helper`` and no torch, so that the core tier can run the ONNX Runtime path (``mmpx infer``, ``mmpx export
int8``) in a venv without the training stack. The weights are random: the tests check plumbing, not accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

NAMES = ["front", "back", "left", "right"]


def write_tiny_onnx(path: Path, size: tuple[int, int] = (32, 32), seed: int = 0, bias: float | None = None) -> Path:
    """``path`` (.onnx) and its sidecar (.json): input N x 3 x H x W -> 4 heatmaps of H/4 x W/4 (MSRAHeatmap).
    ``bias`` sets every heatmap's bias (large: maxima above 0, so MMPose's decoder finds every keypoint)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w, h = size
    k = len(NAMES)
    rng = np.random.default_rng(seed)
    weight = numpy_helper.from_array(rng.standard_normal((k, 3, 1, 1)).astype(np.float32), "w")
    biases = rng.standard_normal(k) if bias is None else np.full(k, bias)
    bias = numpy_helper.from_array(biases.astype(np.float32), "b")
    graph = helper.make_graph(
        [
            helper.make_node("AveragePool", ["input"], ["pooled"], kernel_shape=[4, 4], strides=[4, 4]),
            helper.make_node("Conv", ["pooled", "w", "b"], ["heatmaps"]),
        ],
        "tiny_pose",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, h, w])],
        [helper.make_tensor_value_info("heatmaps", TensorProto.FLOAT, ["batch", k, h // 4, w // 4])],
        initializer=[weight, bias],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(path))
    meta = dict(
        dataset_name="tiny", num_keypoints=k, keypoint_id2name={str(i): n for i, n in enumerate(NAMES)},
        keypoint_name2id={n: i for i, n in enumerate(NAMES)}, flip_indices=[0, 1, 3, 2], flip_pairs=[[2, 3]],
        skeleton_links=[[0, 1], [2, 3]], keypoint_colors=[[255, 0, 0]] * k, skeleton_link_colors=[[0, 255, 0]] * 2,
        sigmas=[0.05] * k,
    )  # fmt: skip
    sidecar = {
        "format": "mmpose-ext/onnx-pose", "version": 1, "onnx": path.name,
        "input": {"name": "input", "shape": ["batch", 3, h, w], "size": [w, h], "dynamic_batch": True,
                  "dtype": "float32"},
        "outputs": [{"name": "heatmaps", "shape": ["batch", k, h // 4, w // 4]}],
        "head": {"type": "HeatmapHead", "kind": "heatmap"},
        "preprocess": {"mean": [123.675, 116.28, 103.53], "std": [58.395, 57.12, 57.375], "bgr_to_rgb": True,
                       "bbox_padding": 1.25, "use_udp": False},
        "codec": {"type": "MSRAHeatmap", "input_size": [w, h], "heatmap_size": [w // 4, h // 4], "sigma": 2},
        "test_cfg": {"flip_test": True},
        "dataset_meta": meta,
    }  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2))
    return path
