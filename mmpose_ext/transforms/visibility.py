"""``KeypointVisibility``: the annotation's seen/hidden flag (COCO ``v`` 2 or 1) as a label for a visibility head.

MMPose's COCO-style datasets keep ``keypoints_visible = min(1, v)``: a hidden keypoint (``v=1``, labelled where it
is though it cannot be seen) and a seen one (``v=2``) look the same, and a codec's ``label_mapping_table`` packs
only its own targets. This transform, placed after ``GenerateTarget`` (just before ``PackPoseInputs``), reads ``v``
again from the instance's ``raw_ann_info``, in the sample's keypoint order (a ``RandomFlip`` swapped left and
right: so are the flags), and adds ``keypoints_visible_weights`` (1 seen, 0 hidden or unlabelled) to the labels
``PackPoseInputs`` packs. :class:`~mmpose_ext.models.visibility.VisibilityHead` learns it, weighted by the pose
targets' ``keypoint_weights`` so that unlabelled keypoints never count. ``mmpx configs new --visibility`` adds it.
"""

from __future__ import annotations

import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.datasets.transforms import PackPoseInputs

from mmpose_ext.registry import TRANSFORMS

LABEL = "keypoints_visible_weights"


@TRANSFORMS.register_module()
class KeypointVisibility(BaseTransform):
    """Adds ``keypoints_visible_weights`` (N, K): 1 where the annotation says seen (``v=2``), from ``raw_ann_info``.

    Raises:
        KeyError: no ``raw_ann_info`` with ``keypoints`` (a dataset that is not COCO-style).
        ValueError: keypoint counts that differ from the sample's (a dataset that rearranges keypoints).
    """

    def transform(self, results: dict) -> dict:
        raw = results.get("raw_ann_info")
        anns = raw if isinstance(raw, list) else [raw]
        if not anns or not all(isinstance(a, dict) and "keypoints" in a for a in anns):
            raise KeyError("KeypointVisibility reads each instance's COCO keypoints from raw_ann_info, and this "
                           "dataset gives none (use a COCO-style dataset)")
        v = np.stack([np.asarray(a["keypoints"], dtype=np.float32).reshape(-1, 3)[:, 2] for a in anns])
        k = np.shape(results["keypoints"])[-2]
        if v.shape[-1] != k:
            raise ValueError(f"KeypointVisibility: the annotation has {v.shape[-1]} keypoints per instance, the "
                             f"sample {k} (a dataset that rearranges keypoints, e.g. several classes, is not "
                             "supported)")
        if results.get("flip") and results.get("flip_direction") in ("horizontal", "vertical"):
            v = v[:, results["flip_indices"]]  # as RandomFlip swapped the keypoints
        results[LABEL] = (v >= 2).astype(np.float32)
        table = results.get("label_mapping_table") or PackPoseInputs.label_mapping_table
        results["label_mapping_table"] = dict(table, **{LABEL: LABEL})
        return results
