"""MMPose dataset metainfo (the ``dataset_info = dict(...)`` files): build, read, write, check and map.

Pure Python (no torch, no mmengine), so converters and checks stay fast. The format is MMPose's
``configs/_base_/datasets/*.py``: ``keypoint_info`` (name, id, color, type, swap), ``skeleton_info`` (link by names,
id, color), ``joint_weights`` and ``sigmas``; a file written here loads with ``metainfo=dict(from_file=PATH)`` in a
config. ``names`` reads keypoint names (words, sides, swaps), ``build`` makes a dict, ``coco`` makes one from a COCO
file (``like``: names, swaps and sigmas taken from another metainfo), ``io`` writes and reads files,
``rules`` checks a dict, ``mapping`` maps keypoints between two files, ``sigmas`` edits a file's sigmas in place,
``classes`` reads and builds files for several classes with different skeletons (one union, a ``classes`` list).
"""

from mmpx.metainfo.build import build_metainfo, keypoint_names
from mmpx.metainfo.classes import KeypointClass, build_classes_metainfo, keypoint_classes
from mmpx.metainfo.coco import metainfo_from_coco
from mmpx.metainfo.io import dumps, load_metainfo, write_atomic, write_metainfo
from mmpx.metainfo.names import infer_swaps, name_key, name_words
from mmpx.metainfo.rules import validate_metainfo

__all__ = [
    "KeypointClass", "build_classes_metainfo", "build_metainfo", "dumps", "infer_swaps", "keypoint_classes",
    "keypoint_names", "load_metainfo", "metainfo_from_coco", "name_key", "name_words", "validate_metainfo",
    "write_atomic", "write_metainfo",
]
