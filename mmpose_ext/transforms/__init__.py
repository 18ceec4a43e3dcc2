"""Data transforms registered in MMPose's ``TRANSFORMS`` (usable from any config after ``import mmpose_ext``).

See docs/guides/transforms.md for each one with a config snippet and a picture.
"""

from mmpose_ext.transforms.albu import AlbumentationsKeypoints
from mmpose_ext.transforms.keypoint_mapping import KeypointMapping
from mmpose_ext.transforms.occlusion import RandomOcclusion
from mmpose_ext.transforms.part_crop import RandomPartCrop
from mmpose_ext.transforms.visibility import KeypointVisibility

__all__ = ["AlbumentationsKeypoints", "KeypointMapping", "KeypointVisibility", "RandomOcclusion", "RandomPartCrop"]
