"""``OnnxDetector``: an RTMDet exported by ``mmpx export onnx``, run with ONNX Runtime and numpy, as mmdet runs it.

The graph (``mmpose_ext.deploy.det_export``) is backbone + neck + head on a normalised N x 3 x H x W input and
returns, over all levels, the sigmoid class scores (N, P, C) and the box distances (N, P, 4) of each prior. The rest
is mmdet's test path ported to numpy: the test pipeline (keep-ratio Resize, Pad with 114, the data preprocessor's
mean/std), then per level the score threshold and ``nms_pre`` top-k (``filter_scores_and_topk``), ``distance2bbox``
from the priors (``MlvlPointGenerator``, offset 0) clamped to the padded input as mmdet clamps them, the rescale by
the scale factor, ``min_bbox_size``, per-class NMS (mmcv's ``batched_nms`` with its class-offset trick) and
``max_per_img``. Boxes are in original pixels, like ``inference_detector``'s.

A detector exported with ``--dynamic-size`` (sidecar ``input.dynamic_size``) takes any input size: each resized
image is padded only to the next multiple of ``preprocess.size_divisor`` (mmdet's ``Pad(size_divisor=...)``), with
the priors and the clamp of that padded size, and images of different padded sizes run in separate session runs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.runtime.model_file import SIDECAR_KEY, kind_error, open_session, read_sidecar

DET_FORMAT = "mmpose-ext/onnx-detector"
POSE_FORMAT = "mmpose-ext/onnx-pose"  # what a pose model's sidecar says (mmpx.runtime.ort.SIDECAR_FORMAT)
_FIELDS = ("input", "outputs", "classes", "strides", "preprocess", "test_cfg")


def load_det_sidecar(onnx_path: str | Path, sidecar: str | Path | None = None, embedded: dict | None = None) -> dict:
    """The detector sidecar: ``embedded`` (inside the model) unless a ``sidecar`` file is named, else NAME.json."""
    data, where = read_sidecar(onnx_path, sidecar, embedded, of="the detector ",
                               export="mmpx export onnx DET_CONFIG DET_CKPT")
    fmt = data.get("format") if isinstance(data, dict) else None
    other = kind_error(onnx_path, data, DET_FORMAT)  # a one-stage model: said plainly
    if other is not None and fmt != POSE_FORMAT:
        raise other
    if fmt == POSE_FORMAT:
        raise MmpxError(f"{onnx_path} is a pose model ({where} says format {fmt!r}), not a detector",
                        "pass the detector's .onnx here and the pose model as --weights")
    if fmt != DET_FORMAT:
        raise MmpxError(f"{where} is not an mmpose-ext detector sidecar (format {fmt!r}, expected {DET_FORMAT!r})",
                        "export the detector with `mmpx export onnx DET_CONFIG DET_CKPT`")
    missing = [key for key in _FIELDS if key not in data]
    if missing:
        raise MmpxError(f"detector sidecar {where} has no {', '.join(map(repr, missing))} field",
                        "export the detector again with this version of mmpx")
    return data


def is_detector_file(onnx_path: str | Path) -> bool:
    """Whether ``onnx_path`` is an exported detector: its sidecar, inside the model or beside it as ``NAME.json``,
    has the detector's format (False for an unreadable file: the command's own checks say why)."""
    import onnx

    path = Path(onnx_path)
    found = []
    try:
        found = [p.value for p in onnx.load(str(path), load_external_data=False).metadata_props
                 if p.key == SIDECAR_KEY]
    except Exception:  # unreadable: the command's own checks say so
        pass
    if path.with_suffix(".json").is_file():
        try:
            found.append(path.with_suffix(".json").read_text(encoding="utf-8"))
        except OSError:
            pass
    return any(f'"{DET_FORMAT}"' in text for text in found)


def refuse_detector(onnx_path: str | Path, command: str) -> None:
    """Raise a clear error when ``onnx_path`` is an exported detector: for the commands that take pose models
    only."""
    if is_detector_file(onnx_path):
        raise MmpxError(f"{Path(onnx_path)} is an exported detector: {command} takes pose models only",
                        "run the fp32 detector as it is (mmpx infer --det-weights DET.onnx)")


def rescale_size(width: int, height: int, scale: tuple[int, int]) -> tuple[tuple[int, int], float]:
    """mmcv's ``rescale_size`` for a keep-ratio Resize: the long edge to at most max(scale), the short one to at
    most min(scale); returns the new (w, h) and the factor."""
    factor = min(max(scale) / max(width, height), min(scale) / min(width, height))
    return (int(width * float(factor) + 0.5), int(height * float(factor) + 0.5)), factor


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, max_keep: int = -1) -> np.ndarray:
    """mmcv's CPU ``nms`` (offset 0, float32): indices kept, best score first; a box is dropped when its IoU
    with a kept, better one is above ``iou_threshold``. ``max_keep`` >= 0 stops after that many (the rest would
    come after them, so the first ``max_keep`` are the same)."""
    x1, y1, x2, y2 = (np.ascontiguousarray(boxes[:, i]) for i in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size and len(keep) != max_keep:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def batched_nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float,
                max_keep: int = -1) -> np.ndarray:
    """mmcv's ``batched_nms``: boxes shifted by ``label * (max coordinate + 1)`` so that classes never overlap,
    then one NMS; the kept ones sorted by score (the first ``max_keep`` of them)."""
    if not len(boxes):
        return np.zeros(0, dtype=np.int64)
    offsets = labels.astype(np.float32) * (boxes.max() + np.float32(1))
    return nms(boxes + offsets[:, None], scores, iou_threshold, max_keep)


def grid_priors(width: int, height: int, strides) -> tuple[np.ndarray, list[int]]:
    """``MlvlPointGenerator(offset=0)``: each level's (x, y) points, row by row, concatenated; and each level's
    count. Feature sizes are ceil(size / stride), as the backbone's stride-2 convolutions give them."""
    points, counts = [], []
    for stride in strides:
        fw, fh = -(-width // stride), -(-height // stride)
        xx, yy = np.meshgrid(np.arange(fw, dtype=np.float32) * stride, np.arange(fh, dtype=np.float32) * stride)
        points.append(np.stack([xx.ravel(), yy.ravel()], axis=1))
        counts.append(fw * fh)
    return np.concatenate(points), counts


class OnnxDetector:
    """An RTMDet exported by ``mmpx export onnx DET_CONFIG DET_CKPT``, on ONNX Runtime (CPU by default).

    Args:
        onnx_path: the ``.onnx`` file (its sidecar is inside it; a ``sidecar`` JSON named here replaces it).
        sidecar: a sidecar JSON to use instead of the one inside the model.
        providers: ONNX Runtime execution providers (default ``["CPUExecutionProvider"]``).
        threads: intra-op threads (default: :mod:`mmpx.runtime.threads`' policy).
        score_thr: replaces the config's ``test_cfg.score_thr`` (the detector's own floor, before NMS).
    """

    def __init__(self, onnx_path, sidecar=None, providers=None, threads=None, *, score_thr: float | None = None):
        onnx_path = Path(onnx_path)
        if not onnx_path.is_file():
            raise MmpxError(f"ONNX detector {onnx_path} does not exist",
                            "export one with `mmpx export onnx DET_CONFIG DET_CKPT --out det.onnx`")
        self.session, embedded = open_session(onnx_path, threads, providers)
        self.sidecar = load_det_sidecar(onnx_path, sidecar, embedded)
        try:
            self._read_sidecar(score_thr)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MmpxError(f"the detector sidecar of {onnx_path} has a bad field ({type(exc).__name__}: {exc})",
                            "export the detector again with `mmpx export onnx`") from exc
        self._check_graph(onnx_path)

    def _read_sidecar(self, score_thr) -> None:
        sc = self.sidecar
        self.classes = [str(c) for c in sc["classes"]]
        self.input_name = sc["input"].get("name", "input")
        self.input_size = tuple(int(v) for v in sc["input"]["size"])  # (w, h): the padded input
        self.dynamic_batch = bool(sc["input"].get("dynamic_batch", False))
        self.dynamic_size = bool(sc["input"].get("dynamic_size", False))
        self.strides = [int(s) for s in sc["strides"]]
        pre = sc["preprocess"]
        # dynamic_size: inputs are padded to a multiple of this (old sidecars have neither: the fixed input_size)
        self.size_divisor = int(pre["size_divisor"]) if self.dynamic_size else None
        self.resize_scale = tuple(int(v) for v in pre["resize_scale"])
        self.keep_ratio = bool(pre.get("keep_ratio", True))
        self.pad_value = float(pre.get("pad_value", 114))
        self.bgr_to_rgb = bool(pre.get("bgr_to_rgb", False))
        # one value is broadcast over the channels, as mmengine's data preprocessor does
        self.mean = np.resize(np.array(pre["mean"], dtype=np.float32), 3).reshape(3, 1, 1)
        self.std = np.resize(np.array(pre["std"], dtype=np.float32), 3).reshape(3, 1, 1)
        test = sc["test_cfg"]
        self.score_thr = float(test.get("score_thr", 0.0) if score_thr is None else score_thr)
        self.nms_pre = int(test.get("nms_pre", -1))
        self.iou_threshold = float(test["iou_threshold"])
        self.max_per_img = int(test.get("max_per_img", 100))
        self.min_bbox_size = float(test.get("min_bbox_size", -1))
        w, h = self.input_size
        if not (16 <= w <= 8192 and 16 <= h <= 8192) or not self.strides or min(self.strides) < 1:
            raise ValueError(f"input size {self.input_size} / strides {self.strides} out of range")
        if not np.all(self.std > 0) or not all(s >= 1 for s in self.resize_scale):
            raise ValueError("std must be > 0 and resize_scale >= 1")
        if self.dynamic_size and not 1 <= self.size_divisor <= 4096:
            raise ValueError(f"preprocess.size_divisor {self.size_divisor} out of range")
        self._grids: dict[tuple[int, int], tuple[np.ndarray, list[int]]] = {}  # (w, h) -> priors, level counts
        self.priors, self.level_counts = self.grid((w, h))

    def grid(self, size: tuple[int, int]) -> tuple[np.ndarray, list[int]]:
        """The priors and each level's count of an input of ``size`` (w, h), computed once per size."""
        found = self._grids.get(size)
        if found is None:
            found = self._grids[size] = grid_priors(size[0], size[1], self.strides)
        return found

    def padded_size(self, width: int, height: int) -> tuple[int, int]:
        """The network input (w, h) of a resized image: the fixed input size, or with a dynamic-size model the
        next multiple of ``size_divisor`` (mmdet's ``Pad(size_divisor=...)``)."""
        if not self.dynamic_size:
            return self.input_size
        d = self.size_divisor
        return -(-width // d) * d, -(-height // d) * d

    def _check_graph(self, onnx_path: Path) -> None:
        """The graph's outputs must be the scores and distances the sidecar describes (a pose model is not)."""
        outs = self.session.get_outputs()
        names = [o.name for o in outs]
        if names != ["scores", "distances"]:
            raise MmpxError(f"{onnx_path}: graph outputs {names} are not a detector's ['scores', 'distances']",
                            "export the detector with `mmpx export onnx DET_CONFIG DET_CKPT`")
        spatial = self.session.get_inputs()[0].shape[2:]
        if self.dynamic_size and all(isinstance(v, int) for v in spatial):
            raise MmpxError(f"{onnx_path}: the sidecar says dynamic_size but the graph's input is fixed at "
                            f"{spatial[1]}x{spatial[0]}", "export the detector again (with or without --dynamic-size)")
        priors, classes = outs[0].shape[1], outs[0].shape[2]
        if (isinstance(priors, int) and priors != len(self.priors)) or (
                isinstance(classes, int) and classes != len(self.classes)):
            raise MmpxError(f"{onnx_path}: the graph gives {priors} priors x {classes} classes, the sidecar "
                            f"{len(self.priors)} x {len(self.classes)}", "export the detector again")

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
        """mmdet's test pipeline and data preprocessor: (3, H, W) float32, and the (w, h) scale factor."""
        import cv2

        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
            raise MmpxError(f"the detector takes an H x W x 3 BGR image, not an array of shape {image_bgr.shape}",
                            "read images with cv2.imread (BGR, 3 channels)")
        h, w = image_bgr.shape[:2]
        if self.keep_ratio:
            (nw, nh), _ = rescale_size(w, h, self.resize_scale)
        else:
            nw, nh = self.resize_scale
        resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR) if (nw, nh) != (w, h) else image_bgr
        pw, ph = self.padded_size(nw, nh)
        if nw > pw or nh > ph:
            raise MmpxError(f"the resized image ({nw}x{nh}) is larger than the detector's input ({pw}x{ph})",
                            "export the detector again: its sidecar's sizes do not agree")
        padded = np.full((ph, pw, 3), self.pad_value, dtype=np.float32)
        padded[:nh, :nw] = resized
        if self.bgr_to_rgb:
            padded = padded[..., ::-1]
        chw = (padded.transpose(2, 0, 1) - self.mean) / self.std
        return np.ascontiguousarray(chw, dtype=np.float32), (nw / w, nh / h)

    def postprocess(self, scores: np.ndarray, distances: np.ndarray, scale_factor, input_size=None) -> tuple:
        """One image's (P, C) scores and (P, 4) distances to boxes in original pixels, scores and labels.
        ``input_size``: the (w, h) the network ran at (default the fixed input size)."""
        input_size = tuple(input_size) if input_size is not None else self.input_size
        all_priors, level_counts = self.grid(input_size)
        if len(scores) != len(all_priors):
            raise MmpxError(f"the detector returned {len(scores)} priors for a {input_size[0]}x{input_size[1]} input, "
                            f"the strides {self.strides} give {len(all_priors)}", "export the detector again")
        num_classes = scores.shape[1]
        kept_scores, kept_labels, kept_priors = [], [], []
        start = 0
        for count in level_counts:  # filter_scores_and_topk, level by level
            level = scores[start:start + count]
            flat = np.flatnonzero(level > self.score_thr)  # row-major: torch.nonzero's order
            values = level.ravel()[flat]
            order = np.argsort(-values, kind="stable")
            if self.nms_pre >= 0:
                order = order[:self.nms_pre]
            kept_scores.append(values[order])
            kept_labels.append(flat[order] % num_classes)
            kept_priors.append(flat[order] // num_classes + start)
            start += count
        det_scores = np.concatenate(kept_scores).astype(np.float32)
        labels = np.concatenate(kept_labels).astype(np.int64)
        rows = np.concatenate(kept_priors)
        points, dist = all_priors[rows], distances[rows]
        boxes = np.concatenate([points - dist[:, :2], points + dist[:, 2:]], axis=1).astype(np.float32)
        pw, ph = input_size  # mmdet's img_shape after Pad: the clamp is to the padded input
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, pw)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, ph)
        sw, sh = scale_factor
        boxes *= np.array([1 / sw, 1 / sh, 1 / sw, 1 / sh], dtype=np.float32)
        if self.min_bbox_size >= 0:
            valid = ((boxes[:, 2] - boxes[:, 0]) > self.min_bbox_size) & ((boxes[:, 3] - boxes[:, 1]) >
                                                                            self.min_bbox_size)
            boxes, det_scores, labels = boxes[valid], det_scores[valid], labels[valid]
        keep = batched_nms(boxes, det_scores, labels, self.iou_threshold, max(self.max_per_img, 0))
        return boxes[keep].reshape(-1, 4), det_scores[keep], labels[keep]

    def detect(self, images_bgr) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Several images: one session run for all those of one input size when the graph has a dynamic batch
        (a dynamic-size model groups them by padded size; a video's frames are one group)."""
        prepared = [self.preprocess(image) for image in images_bgr]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, (chw, _) in enumerate(prepared):
            groups.setdefault(chw.shape, []).append(i)
        results: list = [None] * len(prepared)
        for shape, rows in groups.items():
            batch = np.stack([prepared[i][0] for i in rows])
            if self.dynamic_batch:
                scores, distances = self.session.run(None, {self.input_name: batch})
            else:
                runs = [self.session.run(None, {self.input_name: batch[k:k + 1]}) for k in range(len(batch))]
                scores, distances = (np.concatenate(parts) for parts in zip(*runs, strict=True))
            for k, i in enumerate(rows):
                results[i] = self.postprocess(scores[k], distances[k], prepared[i][1], (shape[2], shape[1]))
        return results

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes (N, 4) xyxy float32 in the image's pixels, scores (N,) and labels (N,), best first."""
        return self.detect([image_bgr])[0]


def pose_demo_nms(dets: np.ndarray, thr: float) -> list[int]:
    """MMPose's ``mmpose.evaluation.functional.nms`` (what its demos and ``MMDetDetector`` apply after the
    detector): areas with +1, the rows of ``dets`` (x1, y1, x2, y2, score) kept, best first."""
    x1, y1, x2, y2, scores = (dets[:, i] for i in range(5))
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep = []
    while len(order) > 0:
        i = order[0]
        keep.append(int(i))
        w = np.maximum(0.0, np.minimum(x2[i], x2[order[1:]]) - np.maximum(x1[i], x1[order[1:]]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[order[1:]]) - np.maximum(y1[i], y1[order[1:]]) + 1)
        inter = w * h
        order = order[np.where(inter / (areas[i] + areas[order[1:]] - inter) <= thr)[0] + 1]
    return keep


class OnnxBoxes:
    """The box source of ``mmpx infer --det-weights DET.onnx``: an :class:`OnnxDetector`'s boxes of the classes
    ``cat_ids`` scoring above ``bbox_thr``, then NMS at ``nms_thr`` (1 turns it off), as ``MMDetDetector`` filters
    mmdet's. ``image -> (xyxy (M, 4) float32, scores (M,))``."""

    def __init__(self, onnx_path, cat_ids=(0,), bbox_thr: float = 0.3, nms_thr: float = 0.3, providers=None,
                 threads=None) -> None:
        self.detector = OnnxDetector(onnx_path, providers=providers, threads=threads)
        self.name = str(onnx_path)
        self.classes = self.detector.classes
        self.cat_ids = [int(c) for c in cat_ids]
        bad = [c for c in self.cat_ids if not 0 <= c < len(self.classes)]
        if bad:
            raise MmpxError(f"--det-cat-id {bad[0]}: the detector {onnx_path} has {len(self.classes)} classes "
                            f"(0..{len(self.classes) - 1}: {', '.join(self.classes[:8])}"
                            f"{', ...' if len(self.classes) > 8 else ''})",
                            "pass the 0-based index of the class to keep")
        self.bbox_thr, self.nms_thr = float(bbox_thr), float(nms_thr)

    def __call__(self, image_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._filter(*self.detector(image_bgr))

    def batch(self, images_bgr) -> list[tuple[np.ndarray, np.ndarray]]:
        """The boxes of several images (a batch of video frames), the detector run once for all of them when its
        graph has a dynamic batch axis; each image's result is what calling this on it alone gives."""
        return [self._filter(*found) for found in self.detector.detect(images_bgr)]

    def labelled(self, image_bgr: np.ndarray, cat_ids=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes, scores and the detector's labels of the classes ``cat_ids`` (None: every class), NMS within
        each class (:func:`labelled_filter`): the boxes of a run with several classes."""
        return labelled_filter(*self.detector(image_bgr), cat_ids, self.bbox_thr, self.nms_thr)

    def batch_labelled(self, images_bgr, cat_ids=None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """:meth:`labelled` for several images, the detector run once for all of them (as :meth:`batch`)."""
        return [labelled_filter(*found, cat_ids, self.bbox_thr, self.nms_thr)
                for found in self.detector.detect(images_bgr)]

    def _filter(self, boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        keep = np.isin(labels, self.cat_ids) & (scores > self.bbox_thr)
        dets = np.concatenate([boxes[keep], scores[keep, None]], axis=1).astype(np.float32)
        if len(dets) and self.nms_thr < 1:
            dets = dets[pose_demo_nms(dets, self.nms_thr)]
        return dets[:, :4].reshape(-1, 4), dets[:, 4].reshape(-1)


def labelled_filter(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, cat_ids, bbox_thr: float,
                    nms_thr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A detector's boxes of the labels ``cat_ids`` (None: all) scoring above ``bbox_thr``, then MMPose's NMS at
    ``nms_thr`` (1 turns it off) within each label, so that a bicycle beside a car is never suppressed by it;
    best score first (the detector's order). Returns boxes (M, 4) float32, scores (M,), labels (M,) int64."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores, labels = np.asarray(scores, np.float32).reshape(-1), np.asarray(labels, np.int64).reshape(-1)
    keep = scores > bbox_thr
    if cat_ids is not None:
        keep &= np.isin(labels, [int(c) for c in cat_ids])
    boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
    if len(boxes) and nms_thr < 1:
        kept = []
        for label in np.unique(labels):
            rows = np.flatnonzero(labels == label)
            dets = np.concatenate([boxes[rows], scores[rows, None]], axis=1)
            kept += rows[pose_demo_nms(dets, nms_thr)].tolist()
        kept = np.asarray(kept, np.int64)
        boxes, scores, labels = boxes[kept], scores[kept], labels[kept]
    order = np.argsort(-scores, kind="stable")
    return boxes[order].reshape(-1, 4), scores[order], labels[order]


__all__ = ["DET_FORMAT", "OnnxBoxes", "OnnxDetector", "batched_nms", "grid_priors", "is_detector_file",
           "labelled_filter", "load_det_sidecar", "nms", "pose_demo_nms", "refuse_detector", "rescale_size"]
