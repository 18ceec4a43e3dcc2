"""Offline keypoint evaluation: COCO AP/AR overall and per group, per-keypoint PCK/EPE/OKS AP, swap rate.

numpy and xtcocotools only (no torch), so ``mmpx eval`` starts fast; MMPose metric classes in
:mod:`mmpose_ext.evaluation.metrics` call the same functions during a run.
"""

from mmpx.evaluation.api import METRICS, SCHEMA, evaluate, evaluate_loaded
from mmpx.evaluation.coco import STATS_NAMES, grouped_coco_metrics
from mmpx.evaluation.groups import group_images
from mmpx.evaluation.matching import Matching, match

__all__ = [
    "METRICS", "SCHEMA", "STATS_NAMES", "Matching", "evaluate", "evaluate_loaded", "group_images",
    "grouped_coco_metrics", "match",
]
