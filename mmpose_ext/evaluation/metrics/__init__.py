"""Metric classes, registered into MMPose's ``METRICS`` registry on import."""

from mmpose_ext.evaluation.metrics.grouped_coco import GroupedCocoMetric
from mmpose_ext.evaluation.metrics.keypoint_breakdown import KeypointBreakdownMetric

__all__ = ["GroupedCocoMetric", "KeypointBreakdownMetric"]
