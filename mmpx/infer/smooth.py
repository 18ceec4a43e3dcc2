"""One-Euro smoothing of keypoints, per track and keypoint (Casiez et al., CHI 2012), in numpy.

A low-pass filter whose cut-off rises with speed: still points stop jittering, moving points keep up. It is
causal (each frame needs only the past), so a video is smoothed while it is drawn. About thirty lines, so it lives
here rather than in a dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneEuroParams:
    """Args:
        min_cutoff: cut-off frequency (Hz) at rest; lower is smoother and lags more.
        beta: how fast the cut-off rises with speed (per pixel/s); higher follows fast motion more closely.
        d_cutoff: cut-off (Hz) of the speed estimate the filter adapts to.
    """

    min_cutoff: float = 1.0
    beta: float = 0.05
    d_cutoff: float = 1.0

    def check(self) -> None:
        from mmpx.errors import MmpxError

        for name in ("min_cutoff", "beta", "d_cutoff"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0) or (name != "beta" and value == 0):
                raise MmpxError(f"smoothing: {name} must be a finite number above 0 (beta may be 0), got {value}",
                                "e.g. --smooth-min-cutoff 1 --smooth-beta 0.01")


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * np.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class _State:
    __slots__ = ("t", "x", "dx")

    def __init__(self, t: float, x: np.ndarray) -> None:
        self.t, self.x, self.dx = t, x.copy(), np.zeros_like(x)


class Smoother:
    """One-Euro filters keyed by track id: ``smoother(t, track_ids, keypoints)`` returns smoothed keypoints.

    A track seen for the first time starts at its raw position. NaN coordinates (unknown points) pass through
    and leave that point's filter as it was.
    """

    def __init__(self, params: OneEuroParams | None = None) -> None:
        self.params = params or OneEuroParams()
        self.params.check()
        self._states: dict[int, _State] = {}

    def __call__(self, t: float, track_ids: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
        """Args:
            t: the frame's time in seconds (increasing).
            track_ids: (N,) the track of each instance.
            keypoints: (N, K, 2) raw keypoints.

        Returns:
            (N, K, 2) smoothed keypoints, float32.
        """
        p = self.params
        out = np.array(keypoints, np.float64, copy=True)
        for i, tid in enumerate(np.asarray(track_ids).tolist()):
            x = out[i]
            state = self._states.get(tid)
            if state is None:
                self._states[tid] = _State(t, np.where(np.isfinite(x), x, np.nan))
                continue
            dt = t - state.t
            if dt <= 0:  # the same frame twice: nothing new to filter
                out[i] = np.where(np.isfinite(state.x), state.x, x)
                continue
            known = np.isfinite(x) & np.isfinite(state.x)
            dx = np.where(known, (x - np.where(known, state.x, 0)) / dt, 0.0)
            dx_hat = state.dx + _alpha(p.d_cutoff, dt) * (dx - state.dx)
            speed = np.linalg.norm(dx_hat, axis=-1, keepdims=True)  # one cut-off per point, from its 2-D speed
            a = _alpha(p.min_cutoff + p.beta * speed, dt)
            x_hat = np.where(known, state.x + a * (x - np.where(known, state.x, 0)), x)
            state.x = np.where(np.isfinite(x), x_hat, state.x)
            state.dx = np.where(known, dx_hat, state.dx)
            state.t = t
            out[i] = x_hat
        return out.astype(np.float32)
