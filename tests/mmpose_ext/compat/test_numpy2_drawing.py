"""MMPose's keypoint drawing works on NumPy 2: ``PoseLocalVisualizer.add_datasample`` with
keypoints that clear the threshold crashed in ``int(radius)``. Checked on the pixels: every keypoint is drawn in
its metainfo colour, and so is a skeleton link."""

from __future__ import annotations

import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (the fix under test)

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def test_keypoints_and_links_are_really_drawn():
    from mmengine.structures import InstanceData
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.structures import PoseDataSample
    from mmpose.visualization import PoseLocalVisualizer

    meta = parse_pose_metainfo(dict(from_file="configs/_base_/datasets/coco.py"))
    vis = PoseLocalVisualizer(name="numpy2_drawing_test", backend="opencv", radius=3, line_width=1)
    vis.set_dataset_meta(meta)
    keypoints = np.array([[[20 + 7 * (k % 6), 20 + 25 * (k // 6)] for k in range(17)]], np.float32)
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(keypoints=keypoints, keypoint_scores=np.ones((1, 17), np.float32))
    image = np.zeros((100, 100, 3), np.uint8)
    drawn = vis.add_datasample("x", image, sample, draw_gt=False, draw_bbox=False, show=False, kpt_thr=0.3)
    for k, (x, y) in enumerate(keypoints[0].astype(int)):
        assert tuple(drawn[y, x]) == tuple(meta["keypoint_colors"][k]), k  # RGB, as MMPose returns it
    assert (drawn.reshape(-1, 3).any(axis=1)).sum() > 17 * 20  # circles and links, not single pixels
