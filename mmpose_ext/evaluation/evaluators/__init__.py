"""Evaluators, registered into MMPose's ``EVALUATORS`` registry (and the dataset wrapper they route by)."""

from mmpose_ext.evaluation.evaluators.combined_evaluator import AGGREGATES, CombinedDatasetEvaluator, aggregates
from mmpose_ext.evaluation.evaluators.indexed_dataset import DATASET_INDEX_KEY, IndexedCombinedDataset

__all__ = ["AGGREGATES", "CombinedDatasetEvaluator", "DATASET_INDEX_KEY", "IndexedCombinedDataset", "aggregates"]
