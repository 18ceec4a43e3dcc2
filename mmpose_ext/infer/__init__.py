"""Pose inference on images, folders and videos (``mmpx infer``): models, boxes, inputs, results.

Import the submodules directly; this package imports nothing heavy by itself.
"""

__all__ = ["TorchPoseModel"]


def __getattr__(name):  # lazy: ``mmpose_ext.infer.TorchPoseModel`` without importing torch for the other modules
    if name == "TorchPoseModel":
        from mmpose_ext.infer.model import TorchPoseModel

        return TorchPoseModel
    raise AttributeError(name)
