"""MMPose's ``Albumentation`` transform (in every RTMPose config) works with albumentations 1.x only.

albumentations 2.x removed ``albumentations.augmentations.transforms`` as MMPose addresses it and renamed the
``CoarseDropout`` arguments RTMPose configs pass (``max_holes``, ``max_height``, ...). mmpose-ext pins 1.3.1 (see
``mmpx/stack.txt``) rather than rewrite those configs, so published RTMPose recipes run unchanged. This is a
check, not a patch: ``mmpx doctor`` reports a 2.x install with the command that fixes it.
"""

from __future__ import annotations

import importlib.metadata

from mmpose_ext.compat._fix import Fix

PIN = "albumentations==1.3.1"


def _version() -> str | None:
    try:
        return importlib.metadata.version("albumentations")
    except importlib.metadata.PackageNotFoundError:
        return None


def _needed() -> bool:
    version = _version()
    return version is not None and int(version.split(".")[0]) >= 2


def _check() -> tuple[str | None, str | None]:
    version = _version()
    if version is None:
        return (
            "albumentations is not installed: RTMPose configs' Albumentation transform fails",
            f"pip install --no-deps {PIN} qudida",
        )
    if _needed():
        return (
            f"albumentations {version} breaks MMPose's Albumentation transform",
            f"pip install --no-deps {PIN} qudida",
        )
    try:
        import albumentations  # noqa: F401
    except Exception as exc:  # MMPose swallows this and later says only "albumentations is not installed"
        return (
            f"albumentations {version} does not import: {type(exc).__name__}: {exc}",
            "pip install scipy scikit-image scikit-learn && pip install --no-deps qudida",
        )
    return None, None


FIX = Fix(
    name="albumentations",
    summary="MMPose's Albumentation transform needs albumentations 1.x (pinned 1.3.1)",
    needed=_needed,
    patch=None,
    check=_check,
)
