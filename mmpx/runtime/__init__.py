"""The ONNX Runtime pose runtime, torch-free: crop, normalise, run, decode as MMPose does; int8 quantisation;
the ONNX Runtime RTMDet detector (``det``: resize, pad, decode and NMS as mmdet does).
Beside it, how CPU work runs: the thread and wait policy (``threads``) and processes that end with their parent
(``lifetime``).

``OnnxPoseModel`` loads lazily, so ``import mmpx.runtime`` costs nothing until it is used.
"""

from __future__ import annotations

__all__ = ["OnnxDetector", "OnnxPoseModel", "load_sidecar", "sidecar_path_for"]


def __getattr__(name: str):
    if name == "OnnxDetector":
        from mmpx.runtime import det

        return det.OnnxDetector
    if name in __all__:
        from mmpx.runtime import ort

        return getattr(ort, name)
    raise AttributeError(name)
