"""``mmpx plot trajectories``: each track's keypoint paths (image coordinates) and speeds over time, one PNG."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.infer.trajectories import read_trajectories

MAX_TRACKS = 8  # rows of panels in one figure; more are chosen with tracks=


@dataclass
class TrajectoryPlot:
    """What was drawn: the PNG, the tracks (video, id) and keypoints, and the tracks left out."""

    path: Path
    tracks: list[tuple[str, int]]
    keypoints: list[str]
    left_out: int = 0


def plot_trajectories(source: str | Path, out: str | Path | None = None, *, tracks: list[int] | None = None,
                      keypoints: list[str] | None = None, visible_only: bool = True) -> TrajectoryPlot:
    """Draw a trajectory file (``mmpx infer --save-csv``): per track, the path of each keypoint and its speed
    (pixels/s, from one row to the track's next) against time.

    Args:
        source: a trajectory CSV (or Parquet) file.
        out: the PNG; default ``source`` with the suffix ``.png``.
        tracks: only these track ids (default: the longest :data:`MAX_TRACKS` tracks).
        keypoints: only these keypoint names (default all).
        visible_only: leave out points below the keypoint threshold (``visible`` 0).

    Raises:
        MmpxError: an unreadable or broken file, or a track id / keypoint name that is not in it.
    """
    source = Path(source)
    data = read_trajectories(source)
    out = Path(out) if out is not None else source.with_suffix(".png")
    names = list(dict.fromkeys(data["keypoint"].tolist()))
    if keypoints:
        unknown = [k for k in keypoints if k not in names]
        if unknown:
            raise MmpxError(f"keypoint(s) {', '.join(unknown)} not in {source}", f"its keypoints: {', '.join(names)}")
        names = [k for k in names if k in keypoints]
    keys = list(dict.fromkeys(zip(data["video"].tolist(), data["track_id"].tolist(), strict=True)))
    if tracks:
        found = {tid for _, tid in keys}
        unknown = [str(t) for t in tracks if t not in found]
        if unknown:
            raise MmpxError(f"track id(s) {', '.join(unknown)} not in {source}",
                            f"its track ids: {', '.join(map(str, sorted(found)[:20]))}")
        keys = [k for k in keys if k[1] in tracks]
    lengths = {k: 0 for k in keys}
    for k in zip(data["video"].tolist(), data["track_id"].tolist(), strict=True):
        if k in lengths:
            lengths[k] += 1
    chosen = sorted(keys, key=lambda k: -lengths[k])[:MAX_TRACKS]
    chosen = [k for k in keys if k in chosen]  # in order of appearance
    _draw(data, chosen, names, out, source.name, visible_only)
    return TrajectoryPlot(out, chosen, names, len(keys) - len(chosen))


def _draw(data: dict, chosen: list, names: list[str], out: Path, title: str, visible_only: bool) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend switch

    from mmpx.atomic import atomic_open

    fig = Figure(figsize=(11, 3.2 * len(chosen) + 0.6), dpi=80)
    FigureCanvasAgg(fig)
    colors = [f"C{i % 10}" for i in range(len(names))]
    videos = data["video"]
    several_videos = len({v for v, _ in chosen}) > 1
    for row, (video, tid) in enumerate(chosen):
        mine = (videos == video) & (data["track_id"] == tid)
        path_ax = fig.add_subplot(len(chosen), 2, 2 * row + 1)
        speed_ax = fig.add_subplot(len(chosen), 2, 2 * row + 2)
        for name, color in zip(names, colors, strict=True):
            sel = mine & (data["keypoint"] == name)
            order = np.argsort(data["frame"][sel], kind="stable")
            x, y = data["x"][sel][order], data["y"][sel][order]
            t, frames = data["time"][sel][order], data["frame"][sel][order]
            if visible_only:
                hidden = data["visible"][sel][order] == 0
                x, y = np.where(hidden, np.nan, x), np.where(hidden, np.nan, y)
            gaps = np.diff(frames) > 1  # break the line where the track was not seen
            x_line, y_line = _break(x, gaps), _break(y, gaps)
            path_ax.plot(x_line, y_line, color=color, linewidth=1, label=name)
            if len(x):
                path_ax.plot(x[:1], y[:1], "o", color=color, markersize=3)
            dt = np.diff(t)
            with np.errstate(invalid="ignore", divide="ignore"):
                speed = np.hypot(np.diff(x), np.diff(y)) / np.where(dt > 0, dt, np.nan)
            speed_ax.plot(t[1:], np.where(gaps, np.nan, speed), color=color, linewidth=1, label=name)
        label = f"track {tid}" + (f" ({video})" if several_videos else "")
        path_ax.set_title(f"{label}: paths", fontsize="medium")
        path_ax.set_xlabel("x (px)")
        path_ax.set_ylabel("y (px)")
        path_ax.invert_yaxis()  # image coordinates: y down
        path_ax.set_aspect("equal", adjustable="datalim")
        path_ax.grid(True, alpha=0.3)
        speed_ax.set_title(f"{label}: speed", fontsize="medium")
        speed_ax.set_xlabel("time (s)")
        speed_ax.set_ylabel("speed (px/s)")
        speed_ax.grid(True, alpha=0.3)
        if row == 0:
            speed_ax.legend(fontsize="x-small", loc="upper right", ncol=2)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_open(out, "wb") as f:
        fig.savefig(f, format="png")


def _break(values: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """``values`` with a NaN after each gap, so that matplotlib does not join across it."""
    if not gaps.any() or len(values) < 2:
        return values
    at = np.flatnonzero(gaps[: len(values) - 1]) + 1
    return np.insert(values.astype(np.float64), at, np.nan)


__all__ = ["MAX_TRACKS", "TrajectoryPlot", "plot_trajectories"]
