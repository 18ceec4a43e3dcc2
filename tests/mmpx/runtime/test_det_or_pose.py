"""A detector given where a pose model goes, and a pose model where a detector goes: each says which it is and
where it belongs, with the sidecar inside the model or only beside it."""

from __future__ import annotations

import json

import pytest

from mmpx.errors import MmpxError
from mmpx.runtime import OnnxPoseModel
from mmpx.runtime.det import OnnxDetector
from tests.mmpx.runtime.test_det import sidecar, write_model
from tests.onnx_model import write_tiny_onnx


def test_detector_as_pose_model_says_so(tmp_path):
    det = write_model(tmp_path / "det.onnx")
    with pytest.raises(MmpxError, match=r"det\.onnx is a detector: pass it as --det-weights / detector=") as info:
        OnnxPoseModel(str(det))
    assert "--det-weights det.onnx" in info.value.hint
    bare = write_model(tmp_path / "bare.onnx", embed=False)
    (tmp_path / "bare.json").write_text(json.dumps(sidecar()))  # the sidecar only beside it
    with pytest.raises(MmpxError, match=r"bare\.onnx is a detector: pass it as --det-weights"):
        OnnxPoseModel(str(bare))
    (tmp_path / "bare.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(MmpxError, match="is not an mmpose-ext sidecar"):  # neither: the old message
        OnnxPoseModel(str(bare))


def test_pose_model_as_detector_says_so(tmp_path):
    pose = write_tiny_onnx(tmp_path / "pose.onnx")
    with pytest.raises(MmpxError, match=r"pose\.onnx is a pose model .* not a detector") as info:
        OnnxDetector(pose)
    assert "--weights" in info.value.hint
