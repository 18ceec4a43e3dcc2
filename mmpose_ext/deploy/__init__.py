"""Deployment, torch side: ONNX export (``export_onnx``) and MMPose codecs for the ONNX runtime (``build_codec``).

The ONNX Runtime model and its numpy decoders moved to the torch-free core: :class:`mmpx.runtime.OnnxPoseModel`.
``mmpose_ext.deploy.OnnxPoseModel`` keeps working for one release, with a DeprecationWarning.
"""

from __future__ import annotations

__all__ = ["OnnxPoseModel", "build_codec", "export_onnx"]


def build_codec(codec_cfg: dict):
    """MMPose's codec class for ``codec_cfg`` (for ``OnnxPoseModel(codec_builder=...)``)."""
    # mmpose_ext itself is imported (the fixes applied) before any module of this package runs
    from mmpose.utils import register_all_modules

    from mmpose_ext.registry import KEYPOINT_CODECS

    register_all_modules(init_default_scope=False)
    return KEYPOINT_CODECS.build(dict(codec_cfg))


def __getattr__(name: str):
    if name == "OnnxPoseModel":
        import warnings

        from mmpose_ext._moved import REMOVED_IN

        warnings.warn(
            f"mmpose_ext.deploy.OnnxPoseModel moved to mmpx.runtime.OnnxPoseModel (no torch needed there); the old "
            f"name goes away in {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=2,
        )
        from mmpx.runtime.ort import OnnxPoseModel

        return OnnxPoseModel
    if name == "export_onnx":
        from .export import export_onnx

        return export_onnx
    raise AttributeError(name)
