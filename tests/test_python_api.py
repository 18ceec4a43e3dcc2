"""The Python API against MMPose's own (issue 11, item 11): the tutorial's `init_model` + `inference_topdown` +
`merge_data_samples` give the same keypoints as `PoseEstimator(config, checkpoint)(image, bboxes)`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import mmpose_ext  # noqa: F401  (compat fixes first: mmpose then imports without torchvision)
from mmpx.api import PoseEstimator
from tests.helpers import write_tiny_config

pytestmark = pytest.mark.stack


def test_same_keypoints_as_mmposes_tutorial(tmp_path, tiny_coco):
    from mmpose.apis import inference_topdown, init_model
    from mmpose.structures import merge_data_samples

    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    with config.open("a") as f:  # an inference pipeline, as MMPose's configs have (no targets to encode)
        f.write("test_dataloader = dict(val_dataloader, dataset=dict(dataset, test_mode=True, pipeline=["
                "dict(type='LoadImage'), dict(type='GetBBoxCenterScale'), "
                "dict(type='TopdownAffine', input_size=codec['input_size']), dict(type='PackPoseInputs')]))\n")
    model = init_model(str(config), None, device="cpu")
    ckpt = tmp_path / "w.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dataset_meta": model.dataset_meta}}, ckpt)
    image = str(tiny_coco / "images" / "000.png")
    boxes = np.array([[4, 4, 60, 70], [10, 20, 90, 90]], np.float32)

    # MMPose's tutorial
    mm = init_model(str(config), str(ckpt), device="cpu")
    merged = merge_data_samples(inference_topdown(mm, image, boxes, bbox_format="xyxy"))
    # mmpose-ext
    result = PoseEstimator(config, ckpt)(image, bboxes=boxes)

    np.testing.assert_allclose(result.keypoints, merged.pred_instances.keypoints, atol=1e-3)
    np.testing.assert_allclose(result.scores, merged.pred_instances.keypoint_scores, atol=1e-4)
    assert len(result.names) == 17 and result.names[:2] == ["nose", "left_eye"]  # CocoDataset's metainfo
    with_maps = PoseEstimator(config, ckpt)(image, bboxes=boxes[:1], heatmaps=True)
    assert with_maps.heatmaps is not None and len(with_maps) == 1
