"""Detection batched across video frames: an exported RTMDet-tiny (mmdet's config, seeded random weights) on the
synthetic traffic clip gives, through ``OnnxBoxes.batch`` (one ONNX Runtime run for several frames, the export's
dynamic batch axis), the same boxes per frame as frame by frame; ``sequence_poses`` uses it for the frames that
are detected (all of them, or the first of each ``det_every`` chunk) and its poses and tracks are unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (compatibility fixes before any mmdet import below)
from mmpx.infer.sequence import SequenceOptions, detect_frames, sequence_poses
from mmpx.infer.track import TrackParams
from mmpx.runtime import OnnxPoseModel
from mmpx.runtime.det import OnnxBoxes
from mmpx.synth.traffic import traffic_clip
from tests.onnx_model import write_tiny_onnx

pytestmark = pytest.mark.stack  # the export needs torch and mmdet

COCO_TINY = "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py"


@pytest.fixture(scope="module")
def det_onnx(tmp_path_factory):
    import torch
    from mmdet.apis import init_detector

    from mmpose_ext.config import load_config
    from mmpose_ext.deploy import export_detector_onnx

    root = tmp_path_factory.mktemp("detbatch")
    torch.manual_seed(0)
    model = init_detector(load_config(COCO_TINY), None, device="cpu")
    torch.save({"state_dict": model.state_dict()}, root / "random.pth")
    result = export_detector_onnx(COCO_TINY, root / "random.pth", out=root / "det.onnx")
    assert result.sidecar["input"]["dynamic_batch"] and result.sidecar["input"]["shape"][0] == "batch"
    return result.onnx_path, write_tiny_onnx(root / "pose.onnx")


class Counted:
    """A box source that records the frames of each call; ``batched=False`` hides its ``batch`` call."""

    def __init__(self, boxes: OnnxBoxes, batched: bool) -> None:
        self.boxes, self.calls = boxes, []
        if batched:
            self.batch = self._batch

    def __call__(self, image):
        self.calls.append(1)
        return self.boxes(image)

    def _batch(self, images):
        self.calls.append(len(images))
        return self.boxes.batch(images)


def test_batch_gives_each_frames_own_boxes(det_onnx):
    det, _ = det_onnx
    frames = traffic_clip(frames=5, cars=3, fps=12.0).frames
    boxes = OnnxBoxes(det, cat_ids=list(range(80)), bbox_thr=0.05, nms_thr=0.3, threads=1)
    runs = []
    session_run = boxes.detector.session.run
    boxes.detector.session = type("Spy", (), {"run": lambda self, *a: runs.append(a[1]["input"].shape[0])
                                              or session_run(*a)})()
    together = boxes.batch(frames)
    assert runs == [5]  # one session run for the five frames
    alone = [boxes(frame) for frame in frames]
    assert runs == [5, 1, 1, 1, 1, 1]
    assert sum(len(b) for b, _ in alone) > 5 * 50  # random weights at 0.05: plenty of boxes to compare
    for (b1, s1), (b2, s2) in zip(alone, together, strict=True):
        np.testing.assert_array_equal(b1, b2)
        np.testing.assert_array_equal(s1, s2)
    assert boxes.batch([]) == []


@pytest.mark.parametrize("det_every", [1, 3])
def test_sequence_detects_in_batches_with_the_same_results(det_onnx, det_every):
    det, pose_file = det_onnx
    frames = traffic_clip(frames=7, cars=3, fps=12.0).frames
    boxes = OnnxBoxes(det, cat_ids=list(range(80)), bbox_thr=0.3, nms_thr=0.3, threads=1)
    model = OnnxPoseModel(str(pose_file), threads=1)
    options = SequenceOptions(track=TrackParams() if det_every > 1 else None, det_every=det_every, batch_frames=2)
    results = {}
    for batched in (True, False):
        source = Counted(boxes, batched)
        results[batched] = (list(sequence_poses(frames, model, source, options)), source.calls)
    (got, calls), (ref, ref_calls) = results[True], results[False]
    if det_every == 1:  # 7 frames in batches of 2, each batch detected in one call
        assert calls == [2, 2, 2, 1] and ref_calls == [1] * 7
    else:  # chunks 0-2, 3-5, 6: their first frames 0 and 3 together, then 6 alone
        assert calls == [2, 1] and ref_calls == [1] * 3
        assert [p.detected for p in got] == [True, False, False] * 2 + [True]
    assert [p.index for p in got] == list(range(7))
    for a, b in zip(got, ref, strict=True):
        np.testing.assert_array_equal(a.bboxes, b.bboxes)
        np.testing.assert_array_equal(a.keypoints, b.keypoints)
        if det_every > 1:
            np.testing.assert_array_equal(a.track_ids, b.track_ids)


def test_a_plain_callable_is_called_per_frame():
    calls = []

    def boxes(image):
        calls.append(image.shape)
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)

    frames = [np.zeros((4, 4, 3), np.uint8)] * 3
    assert len(detect_frames(boxes, frames)) == 3 and len(calls) == 3
