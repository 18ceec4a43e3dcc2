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


class FrameReader:
    """Iterate over a video's BGR frames, decoded ``ahead`` frames in advance by a thread.

    ``fps`` is the container's frame rate (25 when it stores none). Use it as a context manager (or call
    :meth:`close`), so that the thread stops when the consumer stops early.

    Args:
        path: the video file.
        ahead: most frames decoded and waiting (memory: ``ahead`` frames).
        thread: False decodes in the caller's thread (the same frames, for comparisons).
    """

    def __init__(self, path: str | Path, ahead: int = 8, thread: bool = True) -> None:
        import cv2

        self.path = Path(path)
        self._cap = cv2.VideoCapture(str(self.path))
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        self.first = first if ok else None  # None: no frame decodes
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and fps > 0 and np.isfinite(fps) else 25.0  # some containers store none
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, ahead))
        self._stop = threading.Event()
        self._thread = None
        if self.first is not None and thread:
            self._thread = threading.Thread(target=self._decode, name=f"decode {self.path.name}", daemon=True)
            self._thread.start()

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
        return max(1, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)) if cap.isOpened() else 1
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
