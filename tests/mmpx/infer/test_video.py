"""Tracking on video: a synthetic clip of three cars on known straight paths, two of them crossing once.

- the tracker alone, on detections made from the known paths with noise and misses;
- the Python API and ``mmpx infer VIDEO --track --smooth --save-csv`` end to end: a real video file, the real
  frame reader, a real ONNX Runtime pose model (tests/onnx_model.py, random weights: its keypoints are poor, as a
  badly trained model's are) and the real tracker. Only the boxes come from a model-free source on the clip's
  pixels: each car's colour (every car every frame, an occluded car's box shrinks to what shows) or background
  subtraction (the two crossing cars merge into one box for many frames: detector misses);
- ``--det-every`` and the torch backend's batched crops.

Id switches are counted against the known paths: each ground-truth car takes the id of the instance whose box
overlaps it most in each frame.
"""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from mmpx.infer.track import PoseTracker, TrackParams
from mmpx.synth.traffic import BackgroundBoxes, ColourBoxes, traffic_clip, write_video
from tests.onnx_model import NAMES, write_tiny_onnx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

FRAMES, CARS = 36, 3


@pytest.fixture(scope="module")
def clip():
    return traffic_clip(frames=FRAMES, cars=CARS, fps=12.0)


@pytest.fixture(scope="module")
def files(clip, tmp_path_factory):
    root = tmp_path_factory.mktemp("video")
    return {"video": write_video(clip, root / "cars.avi"), "onnx": write_tiny_onnx(root / "tiny.onnx")}


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4)."""
    x0, y0 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x1, y1 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None] - inter)


def id_switches(clip, frames: list[tuple[np.ndarray, np.ndarray]]) -> tuple[int, list[list[int]]]:
    """Per ground-truth car, the ids of the instances matched to it frame by frame (one to one, greedily by IoU,
    above 0.2), and the total number of id changes along the cars' paths. ``frames``: (boxes, track ids) per
    frame."""
    h, w = clip.frames[0].shape[:2]
    ids: list[list[int]] = [[] for _ in range(CARS)]
    for f, boxes, track_ids in frames:
        if len(boxes) == 0:
            continue
        truth = np.clip(clip.boxes[f], 0, [w, h, w, h])
        overlap = _iou(truth, np.asarray(boxes, np.float64).reshape(-1, 4))
        while overlap.size and overlap.max() > 0.2:
            car, best = np.unravel_index(int(overlap.argmax()), overlap.shape)
            ids[car].append(int(track_ids[best]))
            overlap[car, :] = overlap[:, best] = 0
    switches = sum(sum(a != b for a, b in zip(seq, seq[1:], strict=False)) for seq in ids)
    return switches, ids


def test_tracker_keeps_ids_through_noise_misses_and_the_crossing(clip):
    """Detections from the known paths: boxes and keypoints with 2 px of noise, a random 15% of them missing,
    and the car in front hidden for 5 frames where the two cross. Every car keeps one id (0 switches)."""
    rng = np.random.default_rng(0)
    tracker = PoseTracker(TrackParams(max_missing=10))
    frames = []
    for f in range(FRAMES):
        keep = rng.random(CARS) > 0.15
        if abs(f - clip.crossing) <= 2:
            keep[1] = False
        boxes = clip.boxes[f][keep] + rng.normal(0, 2, (keep.sum(), 4))
        kpts = clip.keypoints[f][keep] + rng.normal(0, 2, (keep.sum(), 8, 2))
        ids = tracker.update(boxes, kpts, np.full(kpts.shape[:2], 0.9))
        assert (ids > 0).all() and len(set(ids.tolist())) == len(ids)
        frames.append((f, boxes, ids))
    switches, ids = id_switches(clip, frames)
    assert switches == 0, ids
    assert sorted({seq[0] for seq in ids}) == [1, 2, 3]
    # the hidden car's id comes back after the crossing
    assert ids[1][-1] == ids[1][0]


def test_tracker_needs_distinct_objects_to_start_new_ids(clip):
    tracker = PoseTracker()
    ids = tracker.update(clip.boxes[0], clip.keypoints[0], np.ones((CARS, 8)))
    assert ids.tolist() == [1, 2, 3]
    assert tracker.update(np.zeros((0, 4)), np.zeros((0, 8, 2)), np.zeros((0, 8))).tolist() == []
    # far away from every track: a new id
    far = clip.boxes[0][:1] + [0, 400, 0, 400]
    assert tracker.update(far, clip.keypoints[0][:1] + [0, 400], np.ones((1, 8))).tolist() == [4]
    ids, boxes = tracker.predicted_boxes(3)
    assert ids.tolist() == [4] and boxes.shape == (1, 4)


@pytest.mark.parametrize("detector", ["colours", "background"])
def test_api_tracks_each_car_with_one_id(clip, files, detector):
    """PoseEstimator.run(video, track=True, smooth=True): the same engine as mmpx infer. Colour boxes (every car
    every frame): 0 id switches and exactly frames x cars x keypoints trajectory rows. Background subtraction (the
    crossing cars are one box for 16 of the 36 frames, so one of them is missed each of those frames): each car
    has the same id before and after the crossing (0 switches over the frames where they are seen apart)."""
    from mmpx.api import PoseEstimator, save_trajectories, trajectories

    boxes = ColourBoxes(clip.hues) if detector == "colours" else BackgroundBoxes(clip.background)
    pose = PoseEstimator(files["onnx"], detector=boxes)
    results = list(pose.run(files["video"], track=True, smooth=True))
    assert [r.frame for r in results] == list(range(FRAMES)) and results[0].source == "cars.avi"
    assert results[6].time == pytest.approx(0.5)
    assert all(r.raw_keypoints is not None and r.raw_keypoints.shape == r.keypoints.shape for r in results)
    if detector == "background":
        apart = [r for r in results if len(r) == CARS]
        assert FRAMES - len(apart) >= 10  # the crossing cars really are one box to the detector for a while
        # counted over the frames where the detector sees the cars apart: before and after the crossing
        switches, ids = id_switches(clip, [(r.frame, r.bboxes, r.track_ids) for r in apart])
        assert switches == 0, ids
        return
    switches, ids = id_switches(clip, [(r.frame, r.bboxes, r.track_ids) for r in results])
    assert switches == 0
    table = trajectories(results)
    assert len(table) == FRAMES * CARS * len(NAMES)
    records = results[5].to_coco(6)
    assert [r["track_id"] for r in records] == results[5].track_ids.tolist()
    assert len(records[0]["keypoints_raw"]) == 3 * len(NAMES)
    path = save_trajectories(results, files["video"].parent / "api.csv")
    rows = path.read_text().splitlines()
    assert len(rows) == 1 + FRAMES * CARS * len(NAMES)
    drawn = results[0].draw(draw_bbox=True)
    box = results[0].bboxes[0].astype(int)
    from mmpx.infer.track import track_color

    assert tuple(drawn[box[3], (box[0] + box[2]) // 2]) == track_color(int(results[0].track_ids[0]))


def _cli(monkeypatch, clip, *args):
    """``mmpx infer`` in this process, with ``--det-config colours`` answered by the colour box source (and the
    number of frames it ran on counted)."""
    import mmpx.api
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    calls = []

    def colour_detector(config, weights=None, **kwargs):
        source = ColourBoxes(clip.hues)

        def boxes(image):
            calls.append(1)
            return source(image)

        boxes.name = "car colours"
        return boxes

    monkeypatch.setattr(mmpx.api, "load_detector", colour_detector)
    result = CliRunner().invoke(build_app(load_plugins(distributions=[], env={})),
                                ["infer", *map(str, args), "--det-config", "colours", "--no-progress"])
    assert result.exit_code == 0, (result.output, result.exception)
    return result, len(calls)


def _jitter(keypoints: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.diff(keypoints, 2, axis=0) ** 2)))


def test_cli_track_smooth_csv_video(clip, files, tmp_path, monkeypatch):
    """mmpx infer VIDEO --track --smooth --save-csv --save-json --out-dir: ids in the JSON and drawn, 0 switches,
    frames x cars x keypoints rows, and smoothing (--smooth-min-cutoff 0.5 --smooth-beta 0: strong) lowers the
    keypoints' frame-to-frame jitter, measured against the raw values the JSON keeps: 15.0 -> 2.0 px here (the
    random-weight model's keypoints jump about in each crop; asserted: below half). The Python API gives the same
    track ids and keypoints."""
    out, js, csv = tmp_path / "out", tmp_path / "r.json", tmp_path / "t.csv"
    result, calls = _cli(monkeypatch, clip, files["video"], "--backend", "onnxruntime", "--weights", files["onnx"],
                         "--smooth", "--smooth-min-cutoff", "0.5", "--smooth-beta", "0", "--save-csv", csv,
                         "--save-json", js, "--out-dir", out, "--draw-bbox")
    said = " ".join(result.output.split())
    assert "tracks: 3 in cars.avi" in said and f"trajectories: {FRAMES * CARS * len(NAMES)} row(s)" in said
    assert calls == FRAMES
    records = json.loads(js.read_text())
    by_frame = [[r for r in records if r["file_name"] == f"cars.avi#frame={f}"] for f in range(FRAMES)]
    frames = [(f, np.array([[*r["bbox"][:2], r["bbox"][0] + r["bbox"][2], r["bbox"][1] + r["bbox"][3]] for r in rs]),
               np.array([r["track_id"] for r in rs])) for f, rs in enumerate(by_frame)]
    switches, ids = id_switches(clip, frames)
    assert switches == 0, ids
    lines = csv.read_text().splitlines()
    assert lines[0] == "video,frame,time,track_id,keypoint,x,y,score,visible,x_raw,y_raw"
    assert len(lines) == 1 + FRAMES * CARS * len(NAMES)
    # per track: smoothed vs raw keypoints over the clip
    smooth_j, raw_j = [], []
    for tid in {int(t) for _, _, ids_ in frames for t in ids_}:
        mine = [r for r in records if r["track_id"] == tid]
        smooth_j.append(_jitter(np.array([r["keypoints"] for r in mine]).reshape(len(mine), -1, 3)[..., :2]))
        raw_j.append(_jitter(np.array([r["keypoints_raw"] for r in mine]).reshape(len(mine), -1, 3)[..., :2]))
    print(f"jitter (RMS second difference, px): raw {np.mean(raw_j):.2f}, smoothed {np.mean(smooth_j):.2f}")
    assert np.mean(smooth_j) < 0.5 * np.mean(raw_j), (smooth_j, raw_j)
    cap = cv2.VideoCapture(str(out / "cars.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == FRAMES
    cap.release()
    # the Python API gives the same tracks and keypoints (the same engine)
    from mmpx.api import PoseEstimator
    from mmpx.infer.smooth import OneEuroParams

    api = PoseEstimator(files["onnx"], detector=ColourBoxes(clip.hues))
    again = [r for result in api.run(files["video"], track=True, smooth=OneEuroParams(0.5, 0.0))
             for r in result.to_coco()]
    assert [r["track_id"] for r in again] == [r["track_id"] for r in records]
    np.testing.assert_allclose([r["keypoints"] for r in again], [r["keypoints"] for r in records], atol=1e-3)


def test_cli_det_every(clip, files, tmp_path, monkeypatch):
    """--det-every 4: the box source runs on 9 of the 36 frames; the others get each track's predicted box. Every
    car keeps one id and is in every frame."""
    csv = tmp_path / "t.csv"
    result, calls = _cli(monkeypatch, clip, files["video"], "--backend", "onnxruntime", "--weights", files["onnx"],
                         "--det-every", "4", "--save-csv", csv)
    assert calls == math.ceil(FRAMES / 4)
    lines = [line.split(",") for line in csv.read_text().splitlines()[1:]]
    assert len(lines) == FRAMES * CARS * len(NAMES)
    per_frame = {}
    for row in lines:
        if row[4] == NAMES[0]:
            per_frame.setdefault(int(row[1]), []).append(int(row[3]))
    assert all(sorted(v) == [1, 2, 3] for v in per_frame.values()), per_frame


@pytest.mark.stack
def test_torch_backend_batches_frames_and_tracks(clip, files, tmp_path, monkeypatch):
    """The torch model's predict_frames (crops of several frames in one test_step) equals predict frame by frame;
    mmpx infer --backend torch --track --det-every 2 runs on the video."""
    import torch

    from mmpose_ext.infer.frames import TorchFramesModel  # first: mmpose_ext's fixes before mmpose.apis
    from mmpose.apis import init_model  # isort: skip
    from tests.helpers import make_tiny_coco, write_tiny_config

    make_tiny_coco(tmp_path / "coco", num_images=1)
    config = write_tiny_config(tmp_path / "tiny.py", tmp_path / "coco")
    torch.manual_seed(0)
    net = init_model(str(config), None, device="cpu")
    ckpt = tmp_path / "tiny.pth"
    torch.save({"state_dict": net.state_dict(), "meta": {"dataset_meta": net.dataset_meta}}, ckpt)
    model = TorchFramesModel(config, ckpt, batch_size=4)
    boxes = ColourBoxes(clip.hues)
    frames = clip.frames[:3]
    found = [boxes(f)[0] for f in frames]
    for frame, b, (k, s) in zip(frames, found, model.predict_frames(frames, found), strict=True):
        k1, s1 = model.predict(frame, b)
        np.testing.assert_allclose(k, k1, atol=1e-3)
        np.testing.assert_allclose(s, s1, atol=1e-5)
    js = tmp_path / "r.json"
    _, calls = _cli(monkeypatch, clip, files["video"], "--pose", config, "--weights", ckpt, "--det-every", "2",
                    "--save-json", js)
    records = json.loads(js.read_text())
    assert calls == FRAMES // 2 and len(records) == FRAMES * CARS and {r["track_id"] for r in records} == {1, 2, 3}
