"""Track ids across video frames, with norfair's tracker matching on the pose as well as the box.

Why norfair (and not supervision's ByteTrack): it matches on any set of points, so each instance is matched on its
two box corners *and* its confident keypoints, with a Kalman filter per point; two objects whose boxes overlap
where they cross stay apart by their keypoints and their motion. A track survives ``max_missing`` frames without a
detection, and its filtered box corners and their velocity give the boxes between detector runs
(``--det-every``). norfair declares ``numpy<2`` but runs on NumPy 2 (tests/mmpx/infer/test_video.py); scripts/setup.sh
installs it with ``--no-deps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmpx.errors import MmpxError


@dataclass(frozen=True)
class TrackParams:
    """Args:
        max_missing: frames a track is kept without a matching detection (its id then comes back).
        max_distance: largest match distance: the mean distance of the box corners to the track's predicted ones,
            as a fraction of the box diagonal (averaged with that of the confident keypoints when they agree
            better).
        kpt_thr: keypoints scoring below this are left out of matching and of the track's filter.
    """

    max_missing: int = 30
    max_distance: float = 0.5
    kpt_thr: float = 0.3

    def check(self) -> None:
        if not (isinstance(self.max_missing, int) and self.max_missing >= 1):
            raise MmpxError(f"tracking: max_missing must be a whole number of frames >= 1, got {self.max_missing}",
                            "e.g. --track-max-missing 30")
        if not (np.isfinite(self.max_distance) and self.max_distance > 0):
            raise MmpxError(f"tracking: max_distance must be above 0, got {self.max_distance}",
                            "e.g. --track-max-distance 0.5 (a fraction of the box diagonal)")


def _norfair():
    try:
        import norfair
    except ImportError as exc:
        raise MmpxError(f"tracking needs norfair, which does not import ({exc})",
                        "pip install --no-deps norfair==2.3.0 filterpy==1.4.5 (scripts/setup.sh does)") from exc
    return norfair


class PoseTracker:
    """Gives each instance of each frame a track id (1, 2, ... per tracker; one tracker per video).

    Call :meth:`update` once per frame, in order, with that frame's instances (none is fine: tracks age).
    """

    def __init__(self, params: TrackParams | None = None) -> None:
        self.params = params or TrackParams()
        self.params.check()
        norfair = _norfair()
        self._tracker = norfair.Tracker(
            distance_function="euclidean",  # replaced below: norfair takes only names or per-pair functions
            distance_threshold=self.params.max_distance,
            hit_counter_max=self.params.max_missing,
            initialization_delay=0,  # every instance gets its id at once (its first frame is in the results)
            detection_threshold=self.params.kpt_thr,
            pointwise_hit_counter_max=max(4, self.params.max_missing),
        )
        self._tracker.distance_function = _pose_distance(norfair, self.params.kpt_thr)  # all pairs at once
        self._Detection = norfair.Detection
        self._hit: list = []  # the tracks matched in the last update

    def update(self, bboxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray,
               classes: np.ndarray | None = None) -> np.ndarray:
        """Match one frame's instances to the tracks.

        Args:
            bboxes: (N, 4) xyxy. keypoints: (N, K, 2). scores: (N, K).
            classes: (N,) each instance's class, or None: an instance only matches a track of its class (a
                track never changes class; track ids stay unique over all classes).

        Returns:
            (N,) int64 track ids.
        """
        bboxes = np.asarray(bboxes, np.float64).reshape(-1, 4)
        detections = []
        labels = [None] * len(bboxes) if classes is None else [int(c) for c in classes]
        for i, (box, kpts, kscores) in enumerate(zip(bboxes, keypoints, scores, strict=True)):
            kpts = np.asarray(kpts, np.float64)
            kscores = np.where(np.isfinite(kpts).all(axis=1), np.asarray(kscores, np.float64), 0.0)
            points = np.concatenate([box.reshape(2, 2), np.nan_to_num(kpts)])
            point_scores = np.concatenate([[1.0, 1.0], kscores])  # box corners are always measured
            detections.append(self._Detection(points, scores=point_scores, data=i, label=labels[i]))
        tracks = self._tracker.update(detections)
        ids = np.full(len(detections), -1, np.int64)
        self._hit = []
        current = {id(d): d.data for d in detections}
        for track in tracks:
            index = current.get(id(track.last_detection))
            if index is not None:
                ids[index] = track.id
                self._hit.append(track)
        # every detection matches a track or starts one (no initialisation delay), so none is left at -1
        return ids

    def predicted_boxes(self, steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Boxes of the tracks matched in the last update, ``steps`` frames on (their filtered corners plus
        ``steps`` times their velocity): the boxes of the frames between detector runs.

        Returns:
            track ids (M,) and boxes (M, 4) xyxy.
        """
        ids, boxes = [], []
        for track in self._hit:
            corners = track.estimate[:2] + steps * track.estimate_velocity[:2]
            (x0, y0), (x1, y1) = corners.min(0), corners.max(0)
            if x1 - x0 >= 1 and y1 - y0 >= 1:
                ids.append(track.id)
                boxes.append((x0, y0, x1, y1))
        return np.asarray(ids, np.int64), np.asarray(boxes, np.float32).reshape(-1, 4)


def _pose_distance(norfair, kpt_thr: float):
    """norfair's distance between detections and tracks, for all pairs at once: the mean distance of the two box
    corners over the detection's box diagonal, lowered (averaged) by that of the keypoints both sides trust when
    they lie closer."""

    class PoseDistance(norfair.distances.Distance):
        def get_distances(self, objects, candidates) -> np.ndarray:
            out = np.full((len(candidates or ()), len(objects)), np.inf, np.float32)
            if not objects or not candidates:
                return out
            points = np.stack([c.points for c in candidates])  # (C, P, 2)
            scores = np.stack([c.scores for c in candidates])  # (C, P)
            estimates = np.stack([o.estimate for o in objects])  # (O, P, 2)
            live = np.stack([o.live_points for o in objects])  # (O, P)
            diag = np.maximum(np.linalg.norm(points[:, 1] - points[:, 0], axis=-1), 1.0)
            gaps = np.linalg.norm(points[:, None] - estimates[None], axis=-1) / diag[:, None, None]  # (C, O, P)
            box = gaps[..., :2].mean(-1)
            trusted = (scores[:, None, 2:] > kpt_thr) & live[None, :, 2:]
            count = trusted.sum(-1)
            kpt = np.where(count > 0, (gaps[..., 2:] * trusted).sum(-1) / np.maximum(count, 1), box)
            # keypoints that agree bring a match closer; a poor pose estimate never breaks a match the box makes
            out = np.minimum(box, 0.5 * (box + kpt)).astype(np.float32)
            same = np.array([[c.label == o.label for o in objects] for c in candidates])
            return np.where(same, out, np.float32(np.inf))  # several classes: never across two

    return PoseDistance()


def track_color(track_id: int) -> tuple[int, int, int]:
    """A BGR colour per track id, well apart for neighbouring ids (golden-angle hues)."""
    import cv2

    hue = int((track_id * 137.508) % 180)
    bgr = cv2.cvtColor(np.uint8([[[hue, 220, 255]]]), cv2.COLOR_HSV2BGR)[0, 0]
    return int(bgr[0]), int(bgr[1]), int(bgr[2])


def draw_track_ids(image: np.ndarray, bboxes: np.ndarray, track_ids: np.ndarray, *, thickness: int = 1,
                   draw_bbox: bool = True) -> np.ndarray:
    """Draw each box in its track's colour with ``#id`` above it, in place; returns ``image``."""
    import cv2

    h, w = image.shape[:2]
    scale = max(0.4, min(h, w) / 600)
    for box, tid in zip(np.asarray(bboxes).reshape(-1, 4), np.asarray(track_ids).tolist(), strict=True):
        if tid < 0 or not np.isfinite(box).all():
            continue
        color = track_color(tid)
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        if draw_bbox:
            cv2.rectangle(image, (x0, y0), (x1, y1), color, max(1, thickness))
        text = f"#{tid}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, thickness))
        tx, ty = min(max(x0, 0), max(w - tw - 2, 0)), min(max(y0 - 3, th + 2), h - 2)
        cv2.rectangle(image, (tx, ty - th - 2), (tx + tw + 2, ty + base - 1), color, -1)
        cv2.putText(image, text, (tx + 1, ty - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), max(1, thickness),
                    cv2.LINE_AA)
    return image


def check_tracker() -> None:
    """Before a run: tracking's library imports (a clear error now, not after the first video)."""
    _norfair()
