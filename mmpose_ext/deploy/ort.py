"""Moved to :mod:`mmpx.runtime.ort`; this name keeps working, with a DeprecationWarning, for one release."""

from mmpose_ext._moved import alias

alias(__name__, "mmpx.runtime.ort")
