"""Evaluation: metric classes and evaluators, registered into MMPose's registries on import."""

from mmpose_ext.evaluation import evaluators, metrics
from mmpose_ext.evaluation.evaluators import CombinedDatasetEvaluator
from mmpose_ext.evaluation.metrics import (
    GroupedCocoMetric,
    KeypointBreakdownMetric,
    MultiClassCocoMetric,
    MultiClassPCKAccuracy,
)

__all__ = [
    "CombinedDatasetEvaluator",
    "GroupedCocoMetric",
    "KeypointBreakdownMetric",
    "MultiClassCocoMetric",
    "MultiClassPCKAccuracy",
    "evaluators",
    "metrics",
]
