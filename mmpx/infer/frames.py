"""Video frames decoded in a background thread, and pose crops of several frames run as one batch.

OpenCV releases the GIL while it decodes, so the next frames are read while the models run on this one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np

_END = object()
NOT_READABLE = "not a readable video (no frame could be decoded)"


def _frame_too_large(size: tuple[int, int], limit: int, verb: str) -> str | None:
    w, h = size
    if not limit or w * h <= limit:
        return None
    from mmpx.check.images import PIXELS_ENV

    return (f"too large: the video {verb} frames of {w} x {h} = {w * h:,} pixels, above the limit of {limit:,} "
            f"({PIXELS_ENV}); not decoded")


def _prop(cap, prop: int) -> int:
    value = cap.get(prop)
    return int(value) if value and np.isfinite(value) and value > 0 else 0


class FrameReader:
    """Iterate over a video's BGR frames, decoded ``ahead`` frames in advance by a thread.

    ``fps`` is the container's frame rate (25 when it stores none). Use it as a context manager (or call
    :meth:`close`), so that the thread stops when the consumer stops early. ``first`` is None when the video
    cannot be used, and ``problem`` then says why: no frame decodes, or its frames are larger than the pixel
    limit (``MMPX_MAX_IMAGE_PIXELS``, as for images; checked on the size the container declares before any
    frame is decoded, then on the first frame: ``ahead`` frames of 16,000 x 16,000 would take 6 GB).

    Args:
        path: the video file.
        ahead: most frames decoded and waiting (memory: ``ahead`` frames).
        thread: False decodes in the caller's thread (the same frames, for comparisons).
        limit: the most pixels a frame may have (None: ``MMPX_MAX_IMAGE_PIXELS`` or its default; 0: no limit).
    """

    def __init__(self, path: str | Path, ahead: int = 8, thread: bool = True, limit: int | None = None) -> None:
        import cv2

        from mmpx.check.images import max_image_pixels

        self.path = Path(path)
        self.problem: str | None = None
        self._cap = cv2.VideoCapture(str(self.path))
        self.first = self._open(cv2, max_image_pixels() if limit is None else limit)  # None: see problem
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 and np.isfinite(fps) else 25.0  # some containers store none
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._thread = None
        if self.first is not None and thread:
            self._thread = threading.Thread(target=self._decode, name=f"decode {self.path.name}", daemon=True)
            self._thread.start()

    def _open(self, cv2, limit: int) -> np.ndarray | None:
        """The first frame, or None with ``problem`` set; the declared size is checked before decoding it."""
        if not self._cap.isOpened():
            self.problem = NOT_READABLE
            return None
        declared = (_prop(self._cap, cv2.CAP_PROP_FRAME_WIDTH), _prop(self._cap, cv2.CAP_PROP_FRAME_HEIGHT))
        self.problem = _frame_too_large(declared, limit, "declares")
        if self.problem is not None:
            return None
        try:
            ok, frame = self._cap.read()
        except (cv2.error, MemoryError) as exc:  # a frame too large to allocate, a codec that gives up
            self.problem = f"{NOT_READABLE}: {type(exc).__name__}"
            return None
        if not ok or frame is None:
            self.problem = NOT_READABLE
            return None
        self.problem = _frame_too_large((frame.shape[1], frame.shape[0]), limit, "has")  # containers may say 0
        return None if self.problem else frame

    def _decode(self) -> None:
        try:
            while not self._stop.is_set():
                ok, frame = self._cap.read()
                if not ok or not self._put(frame):
                    break
        except Exception as exc:  # handed to the consumer, raised there
            self._put(exc)
            return
        self._put(_END)

    def _put(self, item) -> bool:
        """Queue ``item``, waiting for room; False when the reader is closed first."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[np.ndarray]:
        if self.first is None:
            return
        yield self.first
        if self._thread is None:
            while True:
                ok, frame = self._cap.read()
                if not ok:
                    return
                yield frame
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._cap.release()

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def frame_count(path: str | Path) -> int:
    """The container's frame count (at least 1; some containers do not store it)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return max(1, _prop(cap, cv2.CAP_PROP_FRAME_COUNT)) if cap.isOpened() else 1
    finally:
        cap.release()


MAX_CROPS = 64  # crops per forward pass when several frames are batched


def predict_frames(model, images: list[np.ndarray], bboxes: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Keypoints and scores for the boxes of several images, in as few forward passes as possible.

    A model with its own ``predict_frames`` (the torch model of ``mmpx.api``) or the ONNX Runtime model runs the
    crops of all images together, :data:`MAX_CROPS` at a time; any other model is run image by image.

    Returns:
        one ``(keypoints (N, K, 2), scores (N, K))`` per image.
    """
    if hasattr(model, "predict_frames"):
        return model.predict_frames(images, bboxes)
    from mmpx.runtime.ort import OnnxPoseModel

    if not isinstance(model, OnnxPoseModel) or len(images) == 1:
        return [model.predict(image, boxes) for image, boxes in zip(images, bboxes, strict=True)]
    return _onnx_frames(model, images, [np.asarray(b, np.float32).reshape(-1, 4) for b in bboxes])


def _onnx_frames(model, images, bboxes):
    from mmpx.runtime import decode as dec

    k = int(model.dataset_meta["num_keypoints"])
    counts = [len(b) for b in bboxes]
    results: list = [None] * len(images)
    group: list[int] = []

    def flush() -> None:
        if not group:
            return
        n = sum(counts[i] for i in group)
        w, h = model.input_size
        inputs = np.empty((n, 3, h, w), np.float32)
        centers, scales, at = [], [], 0
        for i in group:
            _, c, s = model.preprocess(images[i], bboxes[i], out=inputs[at:at + counts[i]])
            centers.append(c)
            scales.append(s)
            at += counts[i]
        keypoints, scores = model.decode(model.forward(inputs))
        keypoints = dec.to_image_space(keypoints[..., :2], model.input_size, np.concatenate(centers),
                                       np.concatenate(scales))
        indices = model.test_cfg.get("output_keypoint_indices")
        if indices is not None:
            keypoints, scores = keypoints[:, indices], scores[:, indices]
        at = 0
        for i in group:
            results[i] = (keypoints[at:at + counts[i]].astype(np.float32), scores[at:at + counts[i]].astype(np.float32))
            at += counts[i]
        group.clear()

    crops = 0
    for i, n in enumerate(counts):
        if n == 0:
            results[i] = (np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32))
            continue
        if group and crops + n > MAX_CROPS:
            flush()
            crops = 0
        group.append(i)
        crops += n
    flush()
    return results
