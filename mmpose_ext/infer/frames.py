"""The torch pose model with crops of several video frames in one forward pass (``mmpx infer`` on videos).

``inference_topdown`` takes one image; :meth:`TorchFramesModel.predict_frames` runs MMPose's own test pipeline
on every (frame, box) pair and ``model.test_step`` on batches of ``batch_size`` crops, as ``inference_topdown``
does for one image's boxes, so the keypoints are the same.
"""

from __future__ import annotations

import numpy as np

from mmpose_ext.infer.model import TorchPoseModel


class TorchFramesModel(TorchPoseModel):
    """:class:`TorchPoseModel` plus ``predict_frames(images, bboxes)`` (what :mod:`mmpx.infer.frames` batches)."""

    def predict_frames(self, images: list[np.ndarray], bboxes: list[np.ndarray]):
        """One ``(keypoints (N, K, 2), scores (N, K))`` per image, crops of all images batched together."""
        import torch
        from mmengine.dataset import Compose, pseudo_collate
        from mmengine.registry import init_default_scope

        k = self.num_keypoints
        pairs = [(i, box) for i, boxes in enumerate(bboxes) for box in np.asarray(boxes, np.float32).reshape(-1, 4)]
        keypoints = np.zeros((len(pairs), k, 2), np.float32)
        scores = np.zeros((len(pairs), k), np.float32)
        if pairs:
            scope = self.model.cfg.get("default_scope", "mmpose")
            if scope is not None:
                init_default_scope(scope)
            pipeline = Compose(self.model.cfg.test_dataloader.dataset.pipeline)
            test_cfg = self.model.test_cfg if self.model.test_cfg is not None else {}
            self.model.test_cfg = test_cfg
            test_cfg["output_heatmaps"] = False
            for start in range(0, len(pairs), self.batch_size):
                data = []
                for i, box in pairs[start:start + self.batch_size]:
                    info = dict(img=images[i], bbox=box[None], bbox_score=np.ones(1, np.float32))
                    info.update(self.model.dataset_meta)
                    data.append(pipeline(info))
                with torch.no_grad():
                    samples = self.model.test_step(pseudo_collate(data))
                for j, sample in enumerate(samples, start):
                    keypoints[j] = np.asarray(sample.pred_instances.keypoints, np.float32).reshape(k, 2)
                    scores[j] = np.asarray(sample.pred_instances.keypoint_scores, np.float32).reshape(k)
        out, at = [], 0
        for boxes in bboxes:
            n = len(np.asarray(boxes).reshape(-1, 4))
            out.append((keypoints[at:at + n], scores[at:at + n]))
            at += n
        return out
