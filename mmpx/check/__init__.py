"""Every check of user input, in one package, torch-free.

- :mod:`mmpx.check.data`: ``mmpx check data`` (COCO keypoint files and MPII-style lists, images, metainfo).
- :mod:`mmpx.check.layouts`: where each MMPose dataset class reads keypoints (COCO-WholeBody's five arrays, ...).
- :mod:`mmpx.check.images`: image headers, the pixel limit, and decoding within it.

They return :class:`mmpx.errors.problems.Problem` records (``mmpx.metainfo.rules`` does too).

The library's preflight (``mmpose_ext.apis.preflight``, run by ``mmpx train``) reuses them on a config's files.
Names load lazily so that importing one module here does not import the others.
"""

from __future__ import annotations

__all__ = ["DataReport", "check_data", "check_data_report"]


def __getattr__(name: str):
    if name in __all__:
        from mmpx.check import data

        return getattr(data, name)
    raise AttributeError(name)
