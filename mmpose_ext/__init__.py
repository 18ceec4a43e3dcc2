"""mmpose-ext: MMPose, end to end for your own keypoint data.

Importing this package (which ``custom_imports = dict(imports=['mmpose_ext'], allow_failed_imports=False)`` does)
applies the compatibility fixes for today's torch, NumPy and setuptools, then registers mmpose-ext's classes into
MMPose's own registries. The command line lives in the light :mod:`mmpx` package.
"""

from mmpose_ext import compat
from mmpose_ext.compat.defer_transformers import deferred
from mmpx import __version__

with deferred():  # the stack loads without importing Hugging Face transformers (2 s), which it gets lazily
    compat.apply_all()

    from mmpose_ext import registry  # noqa: I001  (registries only after the fixes)
    from mmpose_ext import datasets  # noqa: F401  (registers the dataset classes)
    from mmpose_ext import evaluation  # noqa: F401  (registers the metrics)
    from mmpose_ext import engine  # noqa: F401  (registers the training hooks)
    from mmpose_ext import transforms  # noqa: F401  (registers the data transforms)
    from mmpose_ext.models import visibility  # noqa: F401  (registers VisibilityHead)

__all__ = ["__version__", "compat", "datasets", "engine", "evaluation", "registry", "transforms"]
