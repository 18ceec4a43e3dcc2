"""``VisibilityHead``: MMPose's ``VisPredictHead`` taught "seen" (COCO ``v=2``) against "hidden" (``v=1``).

MMPose's ``VisPredictHead`` (a pose head plus a pooled linear layer giving one probability per keypoint) takes its
labels from ``keypoint_weights``, which MMPose's datasets derive from ``min(1, v)``: it learns "labelled and inside
the crop", and cannot tell a hidden keypoint from a seen one. This subclass learns, for each labelled keypoint
inside the crop, whether it was labelled seen: its labels come from :class:`~mmpose_ext.transforms.visibility.
KeypointVisibility` (in the training pipeline, before ``PackPoseInputs``), which packs the annotation's ``v`` as
MMPose's ``keypoints_visible_weights`` (1 for ``v=2``, 0 for ``v=1``), and its weights are the pose targets' own
``keypoint_weights``, so unlabelled keypoints (``v=0``) and those outside the crop never count. Prediction is
MMPose's: ``pred_instances.keypoints_visible`` holds the probabilities.
"""

from __future__ import annotations

import torch
from mmpose.models.heads.hybrid_heads.vis_head import VisPredictHead

from mmpose_ext.registry import MODELS

DEFAULT_LOSS = dict(type="BCELoss", use_target_weight=True, use_sigmoid=True)


@MODELS.register_module()
class VisibilityHead(VisPredictHead):
    """A pose head (``pose_cfg``) plus a visibility probability per keypoint, trained on seen vs hidden.

    Args:
        pose_cfg: the pose head's config (any MMPose top-down head with ``in_channels`` and ``out_channels``).
        loss: the visibility loss; must weigh each keypoint (``use_target_weight=True``) so that keypoints
            without a label are left out.
        init_cfg: as ``VisPredictHead``'s.

    Raises:
        ValueError: a loss without ``use_target_weight`` (it would train unlabelled keypoints as hidden).
    """

    def __init__(self, pose_cfg, loss=DEFAULT_LOSS, init_cfg=None):
        if not dict(loss).get("use_target_weight", False):
            raise ValueError("VisibilityHead: loss.use_target_weight must be True (the weights leave out keypoints "
                             "without a label and those outside the crop)")
        super().__init__(pose_cfg, loss=loss, init_cfg=init_cfg)

    def loss(self, feats, batch_data_samples, train_cfg=None) -> dict:
        """The pose head's losses plus ``loss_vis`` (BCE on seen vs hidden, labelled keypoints inside the crop) and
        ``acc_vis``."""
        labels, weights = [], []
        for sample in batch_data_samples:
            gt = sample.gt_instance_labels
            if "keypoints_visible_weights" not in gt:
                raise KeyError("VisibilityHead needs dict(type='KeypointVisibility') in the training pipeline, just "
                               "before PackPoseInputs (it packs the annotation's seen/hidden flags)")
            labels.append(gt.keypoints_visible_weights.float())
            weights.append(gt.keypoint_weights.float())
        labels, weights = torch.cat(labels), torch.cat(weights)
        pred = self.vis_forward(feats)
        losses = dict(loss_vis=self.loss_module(pred, labels, weights),
                      acc_vis=self.vis_accuracy(pred, labels, weights))
        losses.update(self.pose_head.loss(feats, batch_data_samples))
        return losses
