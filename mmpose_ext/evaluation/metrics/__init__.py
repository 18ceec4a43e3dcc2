"""Metric classes, registered into MMPose's ``METRICS`` registry on import."""

from mmpose_ext.evaluation.metrics.grouped_coco import GroupedCocoMetric
from mmpose_ext.evaluation.metrics.keypoint_breakdown import KeypointBreakdownMetric
from mmpose_ext.evaluation.metrics.multiclass import MultiClassCocoMetric, MultiClassPCKAccuracy

__all__ = ["GroupedCocoMetric", "KeypointBreakdownMetric", "MultiClassCocoMetric", "MultiClassPCKAccuracy"]
