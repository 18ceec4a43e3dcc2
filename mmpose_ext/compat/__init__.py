"""Fixes that make mmengine 0.10.7, mmcv 2.1 and mmpose 1.3.2 work on today's torch, NumPy and setuptools.

Each fix is narrow, checks whether the installed versions need it, and does nothing where they don't.
``import mmpose_ext`` applies them all (that is what ``custom_imports`` runs); ``mmpx doctor`` shows them.
Why each exists: docs/troubleshooting.md. ``atomic_save`` is not a compatibility fix but mends mmengine the same
way: checkpoints and ``last_checkpoint`` are written atomically, so a killed run resumes (docs/runs.md).
"""

from __future__ import annotations

from mmpose_ext.compat import albumentations, atomic_save, checkpoint, pkg_resources, torchvision
from mmpose_ext.compat._fix import Fix, FixStatus

# Order matters: pkg_resources before anything resolves ``mmpose::`` config bases; torchvision before the first
# import of mmpose.visualization.
FIXES: tuple[Fix, ...] = (pkg_resources.FIX, torchvision.FIX, checkpoint.FIX, atomic_save.FIX, albumentations.FIX)


def apply_all() -> list[FixStatus]:
    """Apply every fix that the installed versions need. Idempotent."""
    return [fix.apply() for fix in FIXES]


def report() -> list[FixStatus]:
    """The status of every fix, without applying anything new."""
    return [fix.status() for fix in FIXES]


__all__ = ["FIXES", "Fix", "FixStatus", "apply_all", "report"]
