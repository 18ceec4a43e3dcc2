"""Dataset classes, registered into MMPose's ``DATASETS`` registry on import."""

from mmpose_ext.datasets.carpose import CARPOSE_METAINFO, CarPoseDataset
from mmpose_ext.datasets.humanart import HumanArtScenesDataset
from mmpose_ext.datasets.indexed import DATASET_INDEX_KEY, IndexedCombinedDataset
from mmpose_ext.datasets.multiclass import MultiClassCocoDataset
from mmpx.datasets.humanart import GROUP_OF, GROUPS, SCENES, normalize_scene, resolve_scenes

__all__ = [
    "CARPOSE_METAINFO",
    "CarPoseDataset",
    "DATASET_INDEX_KEY",
    "GROUP_OF",
    "GROUPS",
    "HumanArtScenesDataset",
    "IndexedCombinedDataset",
    "MultiClassCocoDataset",
    "SCENES",
    "normalize_scene",
    "resolve_scenes",
]
