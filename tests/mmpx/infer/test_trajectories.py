"""Video pieces that need no tracker library: One-Euro smoothing (measured on a noisy synthetic clip), trajectory
tables (CSV and Parquet, written and read back with checks), ``mmpx plot trajectories``, the background frame
reader and crops of several frames batched through the ONNX Runtime model. Tracking itself: test_video.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from mmpx.cli.main import main
from mmpx.errors import MmpxError
from mmpx.infer.smooth import OneEuroParams, Smoother
from mmpx.infer.trajectories import COLUMNS, TrajectoryTable, read_trajectories
from mmpx.synth.traffic import traffic_clip, write_video
from tests.onnx_model import NAMES, write_tiny_onnx


@pytest.fixture(scope="module")
def clip():
    return traffic_clip(frames=36, cars=3, fps=12.0)


def _smooth(raw: np.ndarray, fps: float, params=None) -> np.ndarray:
    """(T, C, K, 2) keypoints of C tracks smoothed frame by frame."""
    smoother = Smoother(params)
    return np.stack([smoother(f / fps, np.arange(raw.shape[1]) + 1, raw[f]) for f in range(len(raw))])


def _jitter(x: np.ndarray) -> float:
    """RMS of the second difference over time: 0 for points moving at constant speed, as the cars do."""
    return float(np.sqrt(np.mean(np.diff(x, 2, axis=0) ** 2)))


def _error(x: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(np.linalg.norm(x - truth, axis=-1)[3:]))  # after the filters' first frames


def test_one_euro_lowers_jitter_on_a_noisy_clip(clip):
    """The cars' true keypoints plus 1.5 px of noise. Moving (about 60 px/s): jitter 3.7 -> 2.1 px (-42%) at a
    mean error of 1.9 -> 2.0 px; parked: jitter 3.6 -> 1.2 px, error 1.9 -> 1.1 px (measured; asserted with margin).
    """
    truth = clip.keypoints
    raw = truth + np.random.default_rng(0).normal(0, 1.5, truth.shape)
    smoothed = _smooth(raw, clip.fps)
    assert _jitter(smoothed) < 0.7 * _jitter(raw), (_jitter(raw), _jitter(smoothed))
    assert _error(smoothed, truth) < 1.25 * _error(raw, truth)  # little lag for the smoothness
    parked = np.repeat(truth[:1], len(truth), axis=0)
    noisy = parked + np.random.default_rng(1).normal(0, 1.5, parked.shape)
    still = _smooth(noisy, clip.fps)
    assert _jitter(still) < 0.45 * _jitter(noisy)
    assert _error(still, parked) < 0.75 * _error(noisy, parked)
    # more smoothing at rest (a lower cut-off) lowers jitter further; the raw values are never changed
    calmer = _smooth(raw, clip.fps, OneEuroParams(min_cutoff=0.3, beta=0.01))
    assert _jitter(calmer) < _jitter(smoothed)


def test_smoother_edge_cases():
    smoother = Smoother()
    first = np.array([[[10.0, 20.0], [np.nan, np.nan]]])
    np.testing.assert_array_equal(smoother(0.0, [7], first), first.astype(np.float32))  # starts at the raw value
    out = smoother(0.1, [7], np.array([[[30.0, 20.0], [5.0, 5.0]]]))
    assert 10 < out[0, 0, 0] < 30 and tuple(out[0, 1]) == (5.0, 5.0)  # a point first seen now starts raw
    again = smoother(0.1, [7], np.array([[[99.0, 99.0], [5.0, 5.0]]]))  # the same time twice: no new filtering
    assert again[0, 0, 0] == out[0, 0, 0]
    with pytest.raises(MmpxError, match="min_cutoff must be a finite number above 0"):
        Smoother(OneEuroParams(min_cutoff=0))


def _table(frames: int = 5, tracks: int = 2, raw: bool = False) -> TrajectoryTable:
    table = TrajectoryTable(NAMES, kpt_thr=0.3)
    rng = np.random.default_rng(0)
    for f in range(frames):
        kpts = rng.uniform(0, 100, (tracks, len(NAMES), 2))
        scores = np.tile([0.9, 0.1, 0.5, 0.3], (tracks, 1))
        table.add("clip.mp4", f, f / 10, np.arange(1, tracks + 1), kpts, scores, kpts + 1 if raw else None)
    return table


def test_table_csv_and_parquet_round_trip(tmp_path):
    table = _table(raw=True)
    assert len(table) == 5 * 2 * 4 and table.columns == COLUMNS + ("x_raw", "y_raw")
    path = table.write(tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) + ",x_raw,y_raw" and len(lines) == 1 + 40
    assert lines[1].startswith("clip.mp4,0,0.0000,1,front,") and lines[1].split(",")[8] == "1"
    assert lines[2].split(",")[8] == "0"  # score 0.1 < 0.3: not visible
    back = read_trajectories(path)
    arrays = table.arrays()
    np.testing.assert_allclose(back["x"], arrays["x"], atol=1e-3)
    np.testing.assert_allclose(back["x_raw"], arrays["x"] + 1, atol=1e-3)
    assert back["track_id"].tolist() == arrays["track_id"].tolist() and back["visible"].sum() == 5 * 2 * 3
    first = table.rows()[0]
    assert list(first) == list(table.columns) and first["video"] == "clip.mp4" and first["visible"] is True
    assert first["x"] == arrays["x"][0] and isinstance(first["frame"], int)
    pytest.importorskip("pyarrow")
    parquet = _table().write(tmp_path / "t.parquet")
    back = read_trajectories(parquet)
    assert len(back["frame"]) == 40 and "x_raw" not in back and set(back["keypoint"]) == set(NAMES)


@pytest.mark.parametrize("content, message", [
    ("", "is empty"),
    ("video,frame,time\nclip,0,0\n", "the header lacks column(s) track_id, keypoint"),
    (",".join(COLUMNS) + "\n", "has a header but no rows"),
    (",".join(COLUMNS) + "\nclip.mp4,0,0.0,1,front,1.5,2.5,0.9,1\nclip.mp4,1,0.1,1,fro", "t.csv:3: 5 value(s)"),
    (",".join(COLUMNS) + "\nclip.mp4,0,0.0,1,front,abc,2.5,0.9,1\n", "t.csv:2: x is not a number: 'abc'"),
    (",".join(COLUMNS) + "\nclip.mp4,0,1e400,1,front,1,2.5,0.9,1\n", "t.csv:2: time is not a finite number"),
    (",".join(COLUMNS) + "\nclip.mp4,0.5,0,1,front,1,2.5,0.9,1\n", "frame must be a whole number"),
])
def test_broken_tables_are_clear_errors(tmp_path, content, message):
    path = tmp_path / "t.csv"
    path.write_text(content)
    with pytest.raises(MmpxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_trajectories(path)


def test_plot_trajectories_command(tmp_path, capsys):
    import cv2

    table = _table(frames=12, tracks=3)
    csv = table.write(tmp_path / "t.csv")
    with pytest.raises(SystemExit) as done:
        main(["plot", "trajectories", str(csv), "--track", "2", "-k", "front,left"])
    assert done.value.code in (0, None)
    out = capsys.readouterr().out
    assert out.strip() == f"{tmp_path / 't.png'}: track(s) 2; keypoints front, left"
    image = cv2.imread(str(tmp_path / "t.png"))
    assert image is not None and image.shape[1] == 880 and image.std() > 10  # a drawn figure, not a blank
    with pytest.raises(SystemExit) as done:
        main(["plot", "trajectories", str(csv), "--track", "9", "--out", str(tmp_path / "x.png")])
    assert done.value.code == 1 and "track id(s) 9 not in" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_frame_reader_thread_gives_the_frames_in_order(clip, tmp_path):
    from mmpx.infer.frames import FrameReader

    video = write_video(clip, tmp_path / "clip.avi")
    with FrameReader(video, ahead=2) as threaded, FrameReader(video, thread=False) as plain:
        a, b = list(threaded), list(plain)
        assert threaded.fps == 12.0
    assert len(a) == len(b) == len(clip.frames) and all((x == y).all() for x, y in zip(a, b, strict=True))
    reader = FrameReader(video, ahead=1)  # a consumer that stops early: close() stops the thread
    next(iter(reader))
    reader.close()
    assert not reader._thread.is_alive()
    assert FrameReader(tmp_path / "none.avi").first is None


def test_frames_batched_through_onnx_equal_frame_by_frame(clip, tmp_path):
    """Crops of several frames in one ONNX Runtime run give the keypoints of one run per frame; so does the
    sequence loop without tracking."""
    from mmpx.infer.frames import predict_frames
    from mmpx.infer.sequence import SequenceOptions, sequence_poses
    from mmpx.runtime import OnnxPoseModel
    from mmpx.synth.traffic import ColourBoxes

    model = OnnxPoseModel(write_tiny_onnx(tmp_path / "tiny.onnx"))
    boxes = ColourBoxes(clip.hues)
    frames = clip.frames[:6]
    found = [boxes(f)[0] for f in frames]
    found[2] = found[2][:0]  # a frame without boxes in the middle
    batched = predict_frames(model, frames, found)
    for frame, b, (k, s) in zip(frames, found, batched, strict=True):
        k1, s1 = model.predict(frame, b)
        np.testing.assert_allclose(k, k1, atol=1e-3)
        np.testing.assert_allclose(s, s1, atol=1e-5)
    poses = list(sequence_poses(frames, model, boxes, SequenceOptions(batch_frames=4), fps=12.0))
    assert [p.index for p in poses] == list(range(6)) and poses[3].time == pytest.approx(0.25)
    assert all(p.track_ids is None and p.raw_keypoints is None for p in poses)
    np.testing.assert_allclose(poses[1].keypoints, batched[1][0], atol=1e-3)
    with pytest.raises(MmpxError, match="need track ids"):
        list(sequence_poses(frames, model, boxes, SequenceOptions(det_every=3)))
