"""The pictures of docs/guides/infer.md's video section: a tracked, smoothed frame and a trajectory plot.

The synthetic traffic clip (mmpx.synth.traffic, 4 cars, two crossing), boxes from the cars' colours, and, standing
in for a trained car model, each car's true keypoints plus 1.5 px of noise; everything after the model is
``mmpx infer``'s own code (mmpx.infer.sequence: tracking, smoothing; drawing; the trajectory table; the plot).

    .venv/bin/python benchmarks/video_pictures.py [--out docs/images]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class NoisyTruth:
    """A pose model that answers with the clip's true keypoints (plus noise) of the car each box covers most."""

    def __init__(self, clip, sigma: float = 1.5) -> None:
        from mmpx.synth.carpose import KEYPOINTS

        self.clip, self.sigma, self.frame = clip, sigma, 0
        self.rng = np.random.default_rng(0)
        self.dataset_meta = _car_meta(KEYPOINTS)

    def predict(self, image, bboxes):
        index = next(i for i, f in enumerate(self.clip.frames) if f is image)
        truth = self.clip.boxes[index]
        out = []
        for box in np.asarray(bboxes).reshape(-1, 4):
            low, high = np.maximum(box[:2], truth[:, :2]), np.minimum(box[2:], truth[:, 2:])
            out.append(int(np.argmax(np.prod(np.clip(high - low, 0, None), axis=1))))
        kpts = self.clip.keypoints[index][out] + self.rng.normal(0, self.sigma, (len(out), 8, 2))
        return kpts.astype(np.float32), np.full((len(out), 8), 0.9, np.float32)


def _car_meta(names) -> dict:
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    import mmpose_ext  # noqa: F401  (mmpose imports with its fixes)

    meta = parse_pose_metainfo(dict(from_file=str(ROOT / "mmpose_ext" / "datasets" / "metainfo" / "carpose.py")))
    assert [meta["keypoint_id2name"][i] for i in range(8)] == list(names)
    return meta


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    from mmpx.infer.sequence import SequenceOptions, sequence_poses
    from mmpx.infer.smooth import OneEuroParams
    from mmpx.infer.track import TrackParams, draw_track_ids
    from mmpx.infer.trajectories import TrajectoryTable
    from mmpx.infer.trajectory_plot import plot_trajectories
    from mmpx.synth.traffic import ColourBoxes, traffic_clip
    from mmpx.visual.draw import draw_pose

    clip = traffic_clip(frames=48, cars=4, width=480, height=320, fps=12)
    model = NoisyTruth(clip)
    names = [model.dataset_meta["keypoint_id2name"][i] for i in range(8)]
    table = TrajectoryTable(names)
    options = SequenceOptions(track=TrackParams(), smooth=OneEuroParams())
    shot = None
    for pose in sequence_poses(clip.frames, model, ColourBoxes(clip.hues), options, fps=clip.fps):
        table.add("traffic.mp4", pose.index, pose.time, pose.track_ids, pose.keypoints, pose.scores,
                  pose.raw_keypoints)
        if pose.index == clip.crossing + 3:
            shot = draw_pose(pose.image, pose.keypoints, pose.scores, model.dataset_meta, radius=3, thickness=2)
            draw_track_ids(shot, pose.bboxes, pose.track_ids, thickness=1)
    args.out.mkdir(parents=True, exist_ok=True)
    frame_path = args.out / "infer_tracking.jpg"
    cv2.imwrite(str(frame_path), shot, [cv2.IMWRITE_JPEG_QUALITY, 85])
    with tempfile.TemporaryDirectory() as tmp:
        csv = table.write(Path(tmp) / "traffic.csv")
        plot = plot_trajectories(csv, Path(tmp) / "plot.png", tracks=[1, 2], keypoints=names[:2] + names[4:6])
        image = cv2.imread(str(plot.path))
        cv2.imwrite(str(args.out / "infer_trajectories.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    for p in (frame_path, args.out / "infer_trajectories.jpg"):
        print(f"{p}: {p.stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
