"""``IndexedCombinedDataset``: MMPose's ``CombinedDataset`` whose samples say which sub-dataset they came from."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate
from typing import Any

from mmpose.datasets.dataset_wrappers import CombinedDataset

from mmpose_ext.registry import DATASETS

#: the metainfo key of a packed data sample that holds its sub-dataset's position in ``datasets``
DATASET_INDEX_KEY = "dataset_index"


@DATASETS.register_module()
class IndexedCombinedDataset(CombinedDataset):
    """:class:`~mmpose.datasets.CombinedDataset` that tags each sample with the index of its sub-dataset.

    The packed data sample (the output of ``PackPoseInputs``) gets ``dataset_index`` in its metainfo, so
    :class:`CombinedDatasetEvaluator` can route it to that sub-dataset's metric even when two sub-datasets are
    of the same class (MMPose routes by ``dataset_name``, which they share). The tag is added after the
    pipeline, so ``PackPoseInputs``' ``meta_keys`` need not list it. Takes the same arguments as
    ``CombinedDataset``.

    Examples:
        >>> dataset = dict(type='IndexedCombinedDataset', metainfo=dict(from_file='configs/_base_/datasets/coco.py'),
        ...                datasets=[dict(type='HumanArtScenesDataset', groups=['real_human'], ...),
        ...                          dict(type='HumanArtScenesDataset', groups=['2D_virtual_human'], ...)],
        ...                pipeline=val_pipeline, test_mode=True)
    """

    def subset_index(self, idx: int) -> int:
        """The index of the sub-dataset that global sample ``idx`` comes from (no resampling randomness)."""
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} is out of range for a dataset of length {len(self)}")
        return bisect_right(list(accumulate(self._lens)), idx)

    def prepare_data(self, idx: int) -> Any:
        results = super().prepare_data(idx)
        if results is None:
            return None
        index = self.subset_index(idx)
        data_sample = results.get("data_samples") if isinstance(results, dict) else None
        if data_sample is not None and hasattr(data_sample, "set_metainfo"):
            data_sample.set_metainfo({DATASET_INDEX_KEY: index})
        elif isinstance(results, dict):
            results[DATASET_INDEX_KEY] = index  # a pipeline that does not pack: keep it in the dict
        return results
