"""``OnnxOneStage``: a one-stage pose model (RTMO) exported by ``mmpx export onnx``, run with ONNX Runtime and numpy.

The graph (``mmpose_ext.deploy.rtmo_export``) returns, for the ``top_k`` best anchors of each image, sorted by
score: boxes and keypoints in input pixels, scores and keypoint scores. The rest is MMPose's test path in numpy,
no torch: ``BottomupResize`` (the image scaled to fit the input, centred, the border filled with the pad value),
the data preprocessor's mean/std, then per image the score threshold (``score > score_thr``), NMS at ``nms_thr``
(``mmpx.runtime.det.nms``, the IoU MMPose's ``nms_torch`` computes; 1 turns it off), boxes clamped to the input, and
boxes and keypoints mapped back to image pixels as ``BottomupPoseEstimator.add_pred_to_datasample`` maps them.
The instances are MMPose's while at most ``top_k`` anchors pass the threshold; ``truncated`` flags an image where
the last of them passed too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.runtime.decode import get_warp_matrix
from mmpx.runtime.det import nms
from mmpx.runtime.model_file import ONE_STAGE_FORMAT, kind_error, open_session, read_sidecar

OUTPUTS = ("boxes", "scores", "keypoints", "keypoint_scores", "anchors")


@dataclass
class OneStagePrediction:
    """One image's instances, best score first; coordinates in the image's pixels."""

    boxes: np.ndarray  # (N, 4) xyxy float32
    scores: np.ndarray  # (N,)
    keypoints: np.ndarray  # (N, K, 2)
    keypoint_scores: np.ndarray  # (N, K)
    # the graph's last (top_k-th) anchor passed the score threshold too: anchors after it may have been cut
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.scores)


def load_one_stage_sidecar(onnx_path, sidecar=None, embedded: dict | None = None) -> dict:
    """The one-stage sidecar: ``embedded`` (inside the model) unless a ``sidecar`` file is named, else NAME.json.

    Raises:
        MmpxError: no sidecar, not JSON, or the sidecar of another kind of model (named as such).
    """
    data, where = read_sidecar(onnx_path, sidecar, embedded, of="the one-stage model ")
    other = kind_error(onnx_path, data, ONE_STAGE_FORMAT)
    if other is not None:
        raise other
    fmt = data.get("format") if isinstance(data, dict) else None
    if fmt != ONE_STAGE_FORMAT:
        raise MmpxError(f"{where} is not an mmpose-ext one-stage sidecar (format {fmt!r}, expected "
                        f"{ONE_STAGE_FORMAT!r})", "export the model with `mmpx export onnx CONFIG CKPT`")
    return data


class OnnxOneStage:
    """A one-stage pose model (RTMO) exported by ``mmpx export onnx CONFIG CKPT``, on ONNX Runtime (CPU default).

    Args:
        onnx_path: the ``.onnx`` file (its sidecar is inside it; a ``sidecar`` JSON named here replaces it).
        sidecar: a sidecar JSON to use instead of the one inside the model.
        providers: ONNX Runtime execution providers (default ``["CPUExecutionProvider"]``).
        threads: intra-op threads (default: :mod:`mmpx.runtime.threads`' policy).
        score_thr: instances scoring above it are kept (default: the config's ``test_cfg.score_thr``).
        nms_thr: NMS IoU threshold (default: the config's ``test_cfg.nms_thr``; 1 turns NMS off).
    """

    def __init__(self, onnx_path, sidecar=None, providers=None, threads=None, *, score_thr: float | None = None,
                 nms_thr: float | None = None):
        from mmpx.runtime.sidecar_check import one_stage_problems

        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise MmpxError(f"ONNX model {onnx_path} does not exist",
                            "export one with `mmpx export onnx CONFIG CKPT --out model.onnx`")
        self.session, embedded = open_session(onnx_path, threads, providers)
        self.sidecar = load_one_stage_sidecar(onnx_path, sidecar, embedded)
        problems = one_stage_problems(self.sidecar, self.session)
        if problems:
            raise MmpxError(f"the one-stage sidecar of {onnx_path} does not fit the model: " + "; ".join(problems),
                            "export the model again with `mmpx export onnx`")
        try:
            self._read_sidecar(score_thr, nms_thr)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MmpxError(f"the one-stage sidecar of {onnx_path} has a bad field ({type(exc).__name__}: {exc})",
                            "export the model again with `mmpx export onnx`") from exc

    def _read_sidecar(self, score_thr, nms_thr) -> None:
        from mmpx.runtime.ort import dataset_meta_from_json

        sc = self.sidecar
        self.dataset_meta = dataset_meta_from_json(sc["dataset_meta"])  # MMPose's parsed form, as OnnxPoseModel's
        self.input_name = sc["input"].get("name", "input")
        self.input_size = tuple(int(v) for v in sc["input"]["size"])  # (w, h)
        self.dynamic_batch = bool(sc["input"].get("dynamic_batch", False))
        pre = sc["preprocess"]
        self.mean = np.resize(np.array(pre.get("mean") or [0.0], dtype=np.float32), 3).reshape(3, 1, 1)
        self.std = np.resize(np.array(pre.get("std") or [1.0], dtype=np.float32), 3).reshape(3, 1, 1)
        self.bgr_to_rgb = bool(pre.get("bgr_to_rgb", False))
        self.pad_value = tuple(float(v) for v in np.resize(np.array(pre.get("pad_value", [0.0]), float), 3))
        test = sc.get("test_cfg") or {}
        self.score_thr = float(test.get("score_thr", 0.01) if score_thr is None else score_thr)
        self.nms_thr = float(test.get("nms_thr", 1.0) if nms_thr is None else nms_thr)

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``BottomupResize`` (fit, centred) and the data preprocessor: (3, H, W) float32, and the input's centre
        and scale in image pixels (for mapping back)."""
        import cv2

        if not isinstance(image_bgr, np.ndarray) or image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            shape = getattr(image_bgr, "shape", type(image_bgr).__name__)
            raise MmpxError(f"a one-stage model takes an H x W x 3 BGR image, not {shape}",
                            "read images with cv2.imread (BGR, 3 channels)")
        img_h, img_w = image_bgr.shape[:2]
        pad_w, pad_h = self.input_size
        ratio = img_w / img_h
        fit_w, fit_h = min(pad_w, pad_h * ratio), min(pad_h, pad_w / ratio)
        center = np.array([img_w / 2, img_h / 2], dtype=np.float32)
        scale = np.array([img_w * pad_w / fit_w, img_h * pad_h / fit_h], dtype=np.float32)
        warp = get_warp_matrix(center, scale, (pad_w, pad_h))
        canvas = cv2.warpAffine(image_bgr, warp, (pad_w, pad_h), flags=cv2.INTER_LINEAR, borderValue=self.pad_value)
        if self.bgr_to_rgb:
            canvas = canvas[..., ::-1]
        chw = (canvas.transpose(2, 0, 1).astype(np.float32) - self.mean) / self.std
        return np.ascontiguousarray(chw, dtype=np.float32), center, scale

    def postprocess(self, boxes, scores, keypoints, keypoint_scores, center, scale) -> OneStagePrediction:
        """One image's graph outputs to instances in image pixels: threshold, NMS, clamp, map back."""
        keep = np.flatnonzero(scores > self.score_thr)
        if len(keep) and self.nms_thr < 1:
            keep = keep[nms(boxes[keep].astype(np.float32), scores[keep].astype(np.float32), self.nms_thr)]
        boxes = boxes[keep].astype(np.float32).reshape(-1, 4)
        w, h = self.input_size
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        size = np.array([w, h], dtype=np.float32)

        def to_image(points):
            return points / size * scale + center - 0.5 * scale

        k = keypoints.shape[-2]
        return OneStagePrediction(
            boxes=to_image(boxes.reshape(-1, 2, 2)).reshape(-1, 4).astype(np.float32),
            scores=scores[keep].astype(np.float32),
            keypoints=to_image(keypoints[keep]).reshape(-1, k, 2).astype(np.float32),
            keypoint_scores=keypoint_scores[keep].reshape(-1, k).astype(np.float32),
            truncated=bool(len(scores) and scores[-1] > self.score_thr),
        )

    def predict_batch(self, images_bgr) -> list[OneStagePrediction]:
        """Several images: one session run for all of them when the graph has a dynamic batch."""
        prepared = [self.preprocess(image) for image in images_bgr]
        if not prepared:
            return []
        batch = np.stack([p[0] for p in prepared])
        if self.dynamic_batch:
            outs = self.session.run(list(OUTPUTS[:4]), {self.input_name: batch})
        else:
            runs = [self.session.run(list(OUTPUTS[:4]), {self.input_name: batch[i:i + 1]}) for i in range(len(batch))]
            outs = [np.concatenate(parts) for parts in zip(*runs, strict=True)]
        return [self.postprocess(*(o[i] for o in outs), prepared[i][1], prepared[i][2]) for i in range(len(prepared))]

    def predict(self, image_bgr: np.ndarray) -> OneStagePrediction:
        """The instances of one BGR image: boxes (N, 4) xyxy, scores (N,), keypoints (N, K, 2) and keypoint
        scores (N, K), in the image's pixels, best score first."""
        return self.predict_batch([image_bgr])[0]


__all__ = ["ONE_STAGE_FORMAT", "OUTPUTS", "OneStagePrediction", "OnnxOneStage", "load_one_stage_sidecar"]
