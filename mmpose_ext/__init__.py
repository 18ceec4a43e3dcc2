"""mmpose-ext: MMPose, end to end for your own keypoint data.

Importing this package (which ``custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)`` does)
applies the compatibility fixes for today's torch, NumPy and setuptools, then registers mmpose-ext's classes into
MMPose's own registries. The command line lives in the light :mod:`mmpx` package.
"""

from mmpose_ext import compat
from mmpx import __version__

compat.apply_all()

from mmpose_ext import registry  # noqa: E402, I001  (registries only after the fixes)
from mmpose_ext import datasets  # noqa: E402  (registers the dataset classes)
from mmpose_ext import evaluation  # noqa: E402  (registers the metrics)
from mmpose_ext import engine  # noqa: E402  (registers the training hooks)
from mmpose_ext import transforms  # noqa: E402  (registers the data transforms)
from mmpose_ext.models import visibility  # noqa: E402, F401  (registers VisibilityHead)

__all__ = ["__version__", "compat", "datasets", "engine", "evaluation", "registry", "transforms"]
