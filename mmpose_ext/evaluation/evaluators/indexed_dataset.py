"""Moved to :mod:`mmpose_ext.datasets.indexed` (it is a dataset); this name keeps working for one release."""

from mmpose_ext._moved import alias

alias(__name__, "mmpose_ext.datasets.indexed")
