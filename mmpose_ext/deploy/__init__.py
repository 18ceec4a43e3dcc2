"""Deployment, torch side: ONNX export (``export_onnx``; RTMDet detectors: ``export_detector_onnx``) and
MMPose codecs for the ONNX runtime (``build_codec``).

The ONNX Runtime models and their numpy decoders need no torch: :class:`mmpx.runtime.OnnxPoseModel`,
:class:`mmpx.runtime.OnnxDetector`.
"""

from __future__ import annotations

from mmpose_ext.deploy.det_export import export_detector_onnx
from mmpose_ext.deploy.export import export_onnx

__all__ = ["build_codec", "export_detector_onnx", "export_onnx"]


def build_codec(codec_cfg: dict):
    """MMPose's codec class for ``codec_cfg`` (for ``OnnxPoseModel(codec_builder=...)``)."""
    # mmpose_ext itself is imported (the fixes applied) before any module of this package runs
    from mmpose.utils import register_all_modules

    from mmpose_ext.registry import KEYPOINT_CODECS

    register_all_modules(init_default_scope=False)
    return KEYPOINT_CODECS.build(dict(codec_cfg))
