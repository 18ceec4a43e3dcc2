"""A drawn video written by a background thread: the main thread hands over each frame with what to draw on it,
and goes back to the models while the thread draws and encodes.

OpenCV releases the GIL in most of its drawing calls and in ``VideoWriter.write``, so drawing and encoding an HD
frame (milliseconds) overlaps with inference instead of adding to it. The thread draws with the same calls, in
the same order, as the main thread would: the video's bytes are the same. An error in the thread (an encoder that
refuses a frame, a full disk) is raised in the main thread at the next :meth:`FrameWriter.put` or at
:meth:`FrameWriter.close`, never lost; on an error or Ctrl-C the frames still queued are abandoned and the thread
ends (it is a daemon besides, so it can never hold the process up). The file itself is the caller's to place
atomically (``mmpx.atomic.atomic_path``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError

# frames handed over and not yet written: each holds its decoded frame (6 MB at 1920 x 1080), so at most
# QUEUE_FRAMES x that (25 MB at HD) waits here; a few are enough to absorb the jitter between batches
QUEUE_FRAMES = 4
_END = object()
_JOIN_SECONDS = 10.0  # after an error or Ctrl-C: the longest wait for the frame being encoded


class FrameWriter:
    """Write frames to ``path`` (mp4v) in order; ``put(render, *args)`` queues ``render(*args)`` (the drawn frame).

    Use it as a context manager: leaving the block normally writes every queued frame and releases the file
    (re-raising any error of the thread); leaving it by an exception abandons the queued frames.

    Args:
        path: the video file to write (cv2 picks the container from its suffix).
        fps: frames per second.
        size: ``(width, height)`` of every frame.
        name: how errors name the video (the user's target, not the temporary ``path``).
        thread: False draws and encodes in the caller's thread (the same bytes; for benchmarks and comparisons).
        queue_frames: the most frames waiting (memory: that many frames).
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], *, name: str | Path | None = None,
                 thread: bool = True, queue_frames: int = QUEUE_FRAMES) -> None:
        import cv2

        self.name = str(name if name is not None else path)
        self.written = 0  # frames handed to the encoder
        self._error: BaseException | None = None
        self._abandon = threading.Event()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_frames))
        self._thread: threading.Thread | None = None
        self._closed = False
        self._video = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, tuple(size))
        if not self._video.isOpened():
            self._video.release()
            raise MmpxError(f"cannot write video {self.name}: OpenCV has no mp4v encoder here",
                            "leave out --out-dir for videos, or install an OpenCV build with FFmpeg")
        if thread:
            self._thread = threading.Thread(target=self._run, name=f"write {Path(self.name).name}", daemon=True)
            self._thread.start()

    def put(self, render: Callable[..., np.ndarray], *args) -> None:
        """Queue one frame: ``render(*args)`` runs in the thread and its result is encoded. Waits while the queue
        is full; raises the thread's error, if it had one."""
        self._raise()
        if self._closed:
            raise RuntimeError("FrameWriter.put after close")
        if self._thread is None:
            self._write(render, args)
            return
        while True:  # a timeout, so that an error in the thread (which stops taking frames) is seen here
            try:
                self._queue.put((render, args), timeout=0.1)
                return
            except queue.Full:
                self._raise()

    def close(self, abandon: bool = False) -> None:
        """Wait for the queued frames to be written (or drop them: ``abandon``), end the thread, release the file,
        then raise the thread's error if it had one. Safe to call twice."""
        if not self._closed:
            self._closed = True
            try:
                self._stop(abandon)
            except KeyboardInterrupt:  # Ctrl-C while the last frames are encoded: drop them, then stop
                self._stop(abandon=True)
                raise
            finally:
                if self._thread is None or not self._thread.is_alive():  # never release under a running encoder
                    self._video.release()
        if not abandon:
            self._raise()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(abandon=exc_type is not None)

    def _stop(self, abandon: bool) -> None:
        if self._thread is None:
            return
        if abandon:
            self._abandon.set()
        self._put_end()
        self._thread.join(None if not abandon and self._error is None else _JOIN_SECONDS)

    def _put_end(self) -> None:
        """The end marker, behind the queued frames; on an error the thread is taking none, so wait only briefly."""
        while self._thread.is_alive():
            try:
                self._queue.put(_END, timeout=0.1)
                return
            except queue.Full:
                if self._abandon.is_set() or self._error is not None:
                    self._drain()

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END or self._abandon.is_set():
                return
            try:
                self._write(*item)
            except BaseException as exc:  # handed to the main thread; the queued frames are abandoned
                self._error = exc
                self._abandon.set()
                self._drain()
                return

    def _write(self, render, args) -> None:
        import cv2

        frame = render(*args)
        try:
            self._video.write(frame)
        except cv2.error as exc:
            raise MmpxError(f"writing {self.name} failed at frame {self.written}: the encoder refused it "
                            f"({' '.join(str(exc).split())[-160:]})",
                            "leave out --out-dir for this video (--save-json still works), or re-encode it") from exc
        except OSError as exc:
            raise MmpxError(f"writing {self.name} failed at frame {self.written}: {exc.strerror or exc}",
                            "free disk space or choose another --out-dir") from exc
        self.written += 1

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            if not self._closed:
                self.close(abandon=True)
            raise error


__all__ = ["QUEUE_FRAMES", "FrameWriter"]
