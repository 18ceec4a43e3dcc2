"""Deployment: ONNX export (``export_onnx``) and the ONNX Runtime backend (``OnnxPoseModel``).

Names load lazily: ``OnnxPoseModel`` and the numpy decoders need no torch; only ``export_onnx`` does.
"""

from __future__ import annotations

__all__ = ["OnnxPoseModel", "export_onnx"]


def __getattr__(name: str):
    if name == "OnnxPoseModel":
        from .ort import OnnxPoseModel

        return OnnxPoseModel
    if name == "export_onnx":
        from .export import export_onnx

        return export_onnx
    raise AttributeError(name)
