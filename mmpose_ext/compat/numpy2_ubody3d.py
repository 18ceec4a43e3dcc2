"""MMPose's ``UBody3dDataset`` (the RTMW3D configs) cannot be built on today's NumPy.

Its ``_load_annotations`` stores a score with ``bbox_scores[j] = np.array([1], dtype=np.float32)``: a one-element
array into one element of a 1-d array. NumPy 1.25 deprecated that and NumPy 2 as installed here (2.4) refuses it
(``ValueError: setting an array element with a sequence``), so the dataset fails while loading its annotations.
The method is recompiled from MMPose's installed source with that one line storing ``1`` instead (the same
value), under the original file name and line numbers so tracebacks still point into MMPose. The fix is needed
only while the installed source has that line and NumPy refuses it.
"""

from __future__ import annotations

import inspect
import textwrap

from mmpose_ext.compat._fix import Fix

_LINE = "bbox_scores[j] = np.array([1], dtype=np.float32)"
_FIXED = "bbox_scores[j] = 1"


def _numpy_refuses() -> bool:
    import numpy as np

    try:
        np.zeros(1, np.float32)[0] = np.array([1], dtype=np.float32)
    except (ValueError, TypeError):
        return True
    return False


def _method():
    from mmpose.datasets.datasets.wholebody3d import ubody3d_dataset

    return ubody3d_dataset, ubody3d_dataset.UBody3dDataset._load_annotations


def _needed() -> bool:
    if not _numpy_refuses():
        return False
    _, method = _method()
    if getattr(method, "__mmpx_numpy2__", False):
        return True
    try:
        return _LINE in inspect.getsource(method)
    except OSError:  # no source installed: nothing we can mend this way
        return False


def _patch() -> str:
    module, original = _method()
    if getattr(original, "__mmpx_numpy2__", False):
        return "already replaced"
    lines, first = inspect.getsourcelines(original)
    source = textwrap.dedent("".join(lines))
    # Blank lines in front keep MMPose's line numbers in tracebacks.
    code = compile("\n" * (first - 1) + source.replace(_LINE, _FIXED), inspect.getsourcefile(original), "exec")
    namespace: dict = {}
    exec(code, vars(module), namespace)  # MMPose's own code, from its installed file, less one line
    method = namespace[original.__name__]
    method.__qualname__ = original.__qualname__
    method.__mmpx_numpy2__ = True
    module.UBody3dDataset._load_annotations = method
    return f"UBody3dDataset._load_annotations stores its box score as 1 ({module.__name__}, line {first})"


FIX = Fix(
    name="numpy2_ubody3d",
    summary="MMPose's UBody3dDataset (RTMW3D configs) builds on NumPy 2 (one-element array stored in a scalar)",
    needed=_needed,
    patch=_patch,
)
