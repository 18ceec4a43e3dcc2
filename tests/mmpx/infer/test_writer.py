"""The drawn video written by a background thread (``mmpx.infer.writer.FrameWriter``).

- ``mmpx infer VIDEO --out-dir`` gives the same frames with the writer's thread as without it (the drawing the
  main thread did before): a real clip, the real frame reader, a real ONNX Runtime model (random weights) and the
  colour box source, with track ids and boxes drawn; both videos decoded and compared pixel for pixel;
- an encoder error in the thread (OpenCV's FFmpeg writer refuses a float frame) comes back to the caller as an
  MmpxError at the next ``put`` or at ``close``; an error in the drawing comes back as itself; after either, and
  after Ctrl-C with frames still queued, the thread is gone and the file released;
- SIGTERM during ``mmpx infer VIDEO --out-dir`` ends the command (exit 143, no hang) and leaves no half video.
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.infer.writer import QUEUE_FRAMES, FrameWriter
from mmpx.synth.traffic import ColourBoxes, traffic_clip, write_video
from tests.onnx_model import write_tiny_onnx

SIZE = (64, 48)


def _writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("write ")]


def _frame(value: int = 0) -> np.ndarray:
    return np.full((SIZE[1], SIZE[0], 3), value, np.uint8)


def _decode(path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return np.stack(frames)


@pytest.fixture(scope="module")
def clip():
    return traffic_clip(frames=20, cars=3, fps=12.0)


@pytest.mark.parametrize("track", [False, True])
def test_drawn_video_is_the_same_with_and_without_the_thread(clip, tmp_path, monkeypatch, track):
    """Boxes and keypoints drawn (and with --track, ids in the tracks' colours): the same pixels either way."""
    if track:
        pytest.importorskip("norfair")  # not in the torch-free venv
    from mmpx.infer import runner
    from mmpx.infer.inputs import collect
    from mmpx.infer.sequence import SequenceOptions
    from mmpx.infer.track import TrackParams
    from mmpx.runtime.ort import OnnxPoseModel

    video = write_video(clip, tmp_path / "cars.avi")
    model = OnnxPoseModel(write_tiny_onnx(tmp_path / "tiny.onnx", bias=2.0), threads=1)
    sources, _ = collect([video])
    decoded = {}
    for thread in (True, False):
        monkeypatch.setattr(runner, "WRITER_THREAD", thread)
        out = tmp_path / f"thread-{thread}"
        summary = runner.run(sources, model, ColourBoxes(clip.hues), out_dir=out, progress=False,
                             draw=runner.DrawOptions(draw_bbox=True, radius=2),
                             sequence=SequenceOptions(track=TrackParams() if track else None))
        assert summary.frames == 20 and summary.instances == 60
        assert summary.tracks == ({"cars.avi": 3} if track else {})
        decoded[thread] = _decode(out / "cars.mp4")
        assert sorted(p.name for p in out.iterdir()) == ["cars.mp4"]  # no temporary file left
    assert decoded[True].shape == (20, 240, 320, 3)
    np.testing.assert_array_equal(decoded[True], decoded[False])
    original = np.stack(clip.frames).astype(int)
    assert np.abs(decoded[True].astype(int) - original).max() > 100  # boxes and ids really are drawn
    assert not _writer_threads()


@pytest.mark.parametrize("thread", [True, False])
def test_encoder_error_surfaces_as_mmpx_error(tmp_path, thread):
    """A float frame: OpenCV's FFmpeg writer raises (cv2.error) in the thread; the caller gets an MmpxError that
    names the video and the frame, at a later put or at close, and the thread is gone."""
    target = tmp_path / "out.mp4"
    writer = FrameWriter(tmp_path / "tmp.mp4", 25, SIZE, name=target, thread=thread)
    writer.put(_frame)
    with pytest.raises(MmpxError) as info:
        writer.put(lambda: _frame().astype(np.float32))
        for _ in range(50 * QUEUE_FRAMES):  # the error is raised at one of the next puts
            writer.put(_frame)
            time.sleep(0.01)
        writer.close()
    assert f"writing {target} failed at frame 1: the encoder refused it" in str(info.value)
    assert "--out-dir" in info.value.hint
    assert not _writer_threads()
    writer.close()  # a second close is harmless


def test_encoder_error_surfaces_at_close(tmp_path):
    with pytest.raises(MmpxError, match="the encoder refused it"), FrameWriter(tmp_path / "v.mp4", 25, SIZE) as w:
        w.put(_frame)
        w.put(lambda: _frame().astype(np.float32))
    assert not _writer_threads()


def test_drawing_error_is_raised_as_itself(tmp_path):
    def broken():
        raise ValueError("no such keypoint")

    writer = FrameWriter(tmp_path / "v.mp4", 25, SIZE)
    writer.put(broken)
    with pytest.raises(ValueError, match="no such keypoint"):
        writer.close()
    assert not _writer_threads()


def test_frames_written_in_order(tmp_path):
    path = tmp_path / "v.mp4"  # grey levels 10 apart; lossy encoding moves them by less than 5
    with FrameWriter(path, 25, SIZE, queue_frames=2) as writer:
        for value in range(0, 250, 10):
            writer.put(_frame, value)
    assert writer.written == 25 and not _writer_threads()
    means = _decode(path).mean(axis=(1, 2, 3))
    np.testing.assert_allclose(means, np.arange(0, 250, 10), atol=5)


def test_interrupt_abandons_queued_frames_without_hanging(tmp_path):
    """Ctrl-C (KeyboardInterrupt) in the main thread with a full queue of slow frames: the block is left within
    about one frame's time, not after the whole queue, and the thread is gone."""
    def slow(value):
        time.sleep(0.2)
        return _frame(value)

    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), FrameWriter(tmp_path / "v.mp4", 25, SIZE) as writer:
        for value in range(QUEUE_FRAMES + 2):
            writer.put(slow, value)
        raise KeyboardInterrupt
    assert time.perf_counter() - start < (2 + QUEUE_FRAMES + 2) * 0.2
    assert writer.written < QUEUE_FRAMES + 2 and not _writer_threads()


def test_no_encoder_is_a_clear_error(tmp_path):
    with pytest.raises(MmpxError, match="cannot write video"):
        FrameWriter(tmp_path / "no-such-folder" / "v.mp4", 25, SIZE)
    assert not _writer_threads()


def test_sigterm_during_a_video_leaves_no_half_file(tmp_path):
    from tests.mmpx.cli.test_sigterm import _terminate_when

    video = write_video(traffic_clip(frames=400, cars=3, fps=25.0), tmp_path / "long.avi")
    model = write_tiny_onnx(tmp_path / "tiny.onnx", bias=2.0)
    drawn = tmp_path / "vis"
    start = time.perf_counter()
    done = _terminate_when(["infer", str(video), "--weights", str(model), "--whole-image", "--backend",
                            "onnxruntime", "--out-dir", str(drawn), "--no-progress"],
                           lambda: any(p.stat().st_size > 0 for p in drawn.glob("*mmpx-tmp*")))
    assert done.returncode == 143, done.stderr
    assert "error: terminated" in done.stderr and "Traceback" not in done.stderr
    assert list(drawn.iterdir()) == []  # no half video, no temporary file
    assert time.perf_counter() - start < 60
