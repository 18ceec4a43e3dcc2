"""Damaged model files give one clear line naming the file: a corrupt ONNX or a sidecar with
a bad field used to surface as raw protobuf or ``int()`` errors."""

from __future__ import annotations

import json

import pytest

from mmpx.errors import MmpxError
from mmpx.runtime import OnnxPoseModel
from tests.onnx_model import write_tiny_onnx


def test_corrupt_onnx(tmp_path):
    model = write_tiny_onnx(tmp_path / "m.onnx")
    model.write_bytes(model.read_bytes()[:200])  # truncated, as a full disk leaves it
    with pytest.raises(MmpxError, match=r"m.onnx is not a readable ONNX model") as info:
        OnnxPoseModel(model)
    assert "export it again" in info.value.hint


def test_sidecar_with_a_bad_field(tmp_path):
    model = write_tiny_onnx(tmp_path / "m.onnx")
    sidecar = json.loads(model.with_suffix(".json").read_text())
    sidecar["input"]["size"] = ["wide", 32]
    other = tmp_path / "bad.json"
    other.write_text(json.dumps(sidecar))
    with pytest.raises(MmpxError, match=r"the sidecar of .*m.onnx has a bad field \(ValueError"):
        OnnxPoseModel(model, sidecar=other)
