"""Evaluators, registered into MMPose's ``EVALUATORS`` registry.

``IndexedCombinedDataset`` (the dataset wrapper they route by) lives in :mod:`mmpose_ext.datasets`; it is
re-exported here for configs and code written before it moved.
"""

from mmpose_ext.datasets.indexed import DATASET_INDEX_KEY, IndexedCombinedDataset
from mmpose_ext.evaluation.evaluators.combined_evaluator import AGGREGATES, CombinedDatasetEvaluator, aggregates

__all__ = ["AGGREGATES", "CombinedDatasetEvaluator", "DATASET_INDEX_KEY", "IndexedCombinedDataset", "aggregates"]
