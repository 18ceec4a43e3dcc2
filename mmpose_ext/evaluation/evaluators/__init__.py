"""Evaluators, registered into MMPose's ``EVALUATORS`` registry.

``IndexedCombinedDataset``, the dataset wrapper they route by, is a dataset: :mod:`mmpose_ext.datasets`.
"""

from mmpose_ext.evaluation.evaluators.combined_evaluator import AGGREGATES, CombinedDatasetEvaluator, aggregates

__all__ = ["AGGREGATES", "CombinedDatasetEvaluator", "aggregates"]
