"""``sequence_poses`` with a box source that detects several frames at once (``OnnxBoxes.batch``), torch-free:
which frames go through it together, with and without ``det_every``, and the frames read ahead stay bounded.
The same boxes as frame by frame on a real RTMDet export: tests/mmpx/infer/test_det_batch.py."""

from __future__ import annotations

import numpy as np
import pytest

from mmpx.infer.sequence import SequenceOptions, sequence_poses
from mmpx.infer.track import TrackParams
from mmpx.runtime import OnnxPoseModel
from mmpx.runtime.det import OnnxBoxes
from tests.mmpx.runtime.test_det import write_model
from tests.onnx_model import write_tiny_onnx


class Recorder(OnnxBoxes):
    """An exported detector's box source that records how many frames each call gets."""

    def __init__(self, path) -> None:
        super().__init__(path, cat_ids=[0, 1])
        self.calls: list[int] = []

    def __call__(self, image):
        self.calls.append(1)
        return super().__call__(image)

    def batch(self, images):
        self.calls.append(len(images))
        return super().batch(images)


@pytest.mark.parametrize(("det_every", "batch_frames", "calls", "detected"), [
    (1, 4, [4, 4, 2], list(range(10))),
    (3, 2, [2, 2], [0, 3, 6, 9]),  # chunks 0-2, 3-5 | 6-8, 9
    (10, 4, [1], [0]),  # 16 // 10: one chunk at a time (at most 16 frames read ahead)
    (5, 8, [2], [0, 5]),  # up to 16 // 5 = 3 chunks at once: the clip has two
])
def test_frames_detected_together(tmp_path, det_every, batch_frames, calls, detected):
    if det_every > 1:
        pytest.importorskip("norfair", reason="det_every needs tracking: norfair (not in the torch-free venv)")
    boxes = Recorder(write_model(tmp_path / "det.onnx"))
    model = OnnxPoseModel(str(write_tiny_onnx(tmp_path / "pose.onnx")))
    frames = [np.random.default_rng(i).integers(0, 256, (96, 128, 3), dtype=np.uint8) for i in range(10)]
    options = SequenceOptions(track=TrackParams() if det_every > 1 else None, det_every=det_every,
                              batch_frames=batch_frames)
    poses = list(sequence_poses(frames, model, boxes, options))
    assert boxes.calls == calls
    assert [p.index for p in poses] == list(range(10))
    assert [p.index for p in poses if p.detected] == detected
    alone = boxes.detector.detect([frames[0]])[0]
    np.testing.assert_array_equal(poses[0].bboxes, boxes._filter(*alone)[0])
