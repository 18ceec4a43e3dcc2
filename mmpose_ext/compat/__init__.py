"""Fixes that make mmengine 0.10.7, mmcv 2.1 and mmpose 1.3.2 work on today's torch, NumPy and setuptools.

Each fix is narrow, checks whether the installed versions need it, and does nothing where they don't.
``import mmpose_ext`` applies them (that is what ``custom_imports`` runs): only the fixes without which MMPose
cannot import, load a checkpoint, build its own datasets or draw keypoints on today's packages. ``mmpx doctor``
lists each one, whether it is active and why it exists; the reasons are in docs/guides/troubleshooting.md.
Behaviour changes beyond that (atomic checkpoint writes) are explicit hooks instead (``AtomicCheckpointHook``),
never a side effect of importing.
"""

from __future__ import annotations

from mmpose_ext.compat import (
    albumentations,
    checkpoint,
    numpy2_drawing,
    numpy2_num_keypoints,
    numpy2_ubody3d,
    pkg_resources,
    torchvision,
)
from mmpose_ext.compat._fix import Fix, FixStatus

# Order matters: pkg_resources before anything resolves ``mmpose::`` config bases; torchvision before the first
# import of mmpose.visualization (numpy2_drawing imports it). albumentations only checks (it patches nothing).
FIXES: tuple[Fix, ...] = (
    pkg_resources.FIX,
    torchvision.FIX,
    checkpoint.FIX,
    numpy2_drawing.FIX,
    numpy2_num_keypoints.FIX,
    numpy2_ubody3d.FIX,
    albumentations.FIX,
)


def apply_all() -> list[str]:
    """Apply every fix that the installed versions need; returns the names of those now applied. Idempotent."""
    return [fix.name for fix in FIXES if fix.apply()]


def report() -> list[FixStatus]:
    """The status of every fix, without applying anything new."""
    return [fix.status() for fix in FIXES]


__all__ = ["FIXES", "Fix", "FixStatus", "apply_all", "report"]
