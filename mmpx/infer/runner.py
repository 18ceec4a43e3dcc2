"""The ``mmpx infer`` loop: read each image or video frame, find boxes, predict keypoints, draw, write.

Unreadable images and videos are skipped and listed in the summary (the others are still processed); a drawn
image, a drawn video and the JSON each appear atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmpx.atomic import atomic_path, clean_stale, write_bytes, write_json
from mmpx.errors import MmpxError
from mmpx.infer.inputs import Source, decode_image, output_name
from mmpx.infer.results import instance_records


@dataclass
class DrawOptions:
    kpt_thr: float = 0.3
    radius: int = 3
    thickness: int = 1
    draw_bbox: bool = False
    draw_heatmap: bool = False
    show_kpt_idx: bool = False
    skeleton_style: str = "mmpose"


@dataclass
class Summary:
    images: int = 0  # still images processed
    videos: int = 0
    frames: int = 0  # video frames processed
    instances: int = 0
    seconds: float = 0.0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    outputs: list[str] = field(default_factory=list)  # drawn images and videos
    json_path: str | None = None
    records: list[dict] = field(default_factory=list)
    no_boxes: dict[str, int] = field(default_factory=dict)  # image or video name -> images/frames without a box


def run(sources: list[Source], model, boxes, *, out_dir: Path | None = None, save_json: Path | None = None,
        draw: DrawOptions | None = None, progress: bool = True) -> Summary:
    """Run ``model`` (the pose-model interface) on every source, with boxes from ``boxes(image) -> (xyxy, scores)``."""
    draw = draw or DrawOptions()
    summary = Summary()
    if out_dir is not None:
        clean_stale(out_dir, recursive=True)  # temporary files of killed runs
    start = time.perf_counter()
    total = sum(_frame_count(s.path) if s.kind == "video" else 1 for s in sources)
    with _progress(total, enabled=progress) as bar:
        task = bar.add_task("infer", total=total)
        for src in sources:
            bar.update(task, description=src.name[-40:])
            if src.kind == "image":
                _image(src, model, boxes, out_dir, draw, summary)
                bar.advance(task)
            else:
                _video(src, model, boxes, out_dir, draw, summary, lambda: bar.advance(task))
    if save_json is not None:
        write_json(save_json, summary.records, indent=None)
        summary.json_path = str(save_json)
    summary.seconds = time.perf_counter() - start
    return summary


def _process(image: np.ndarray, name: str, model, boxes, draw: DrawOptions, summary: Summary,
             want_drawing: bool) -> np.ndarray | None:
    """Boxes, keypoints and JSON records of one image; returns the drawn image when asked for."""
    from mmpx.draw import draw_heatmap, draw_pose

    bboxes, bbox_scores = boxes(image)
    if len(bboxes) == 0:
        summary.no_boxes[name] = summary.no_boxes.get(name, 0) + 1
    heatmaps = None
    if draw.draw_heatmap and want_drawing:
        keypoints, scores, heatmaps = model.predict_with_heatmaps(image, bboxes)
    else:
        keypoints, scores = model.predict(image, bboxes)
    image_id = summary.images + summary.frames + 1
    summary.records += instance_records(image_id, name, keypoints, scores, bboxes, bbox_scores)
    summary.instances += len(keypoints)
    if not want_drawing:
        return None
    canvas = draw_heatmap(image, heatmaps) if heatmaps is not None else image
    return draw_pose(canvas, keypoints, scores, model.dataset_meta, bboxes=bboxes, kpt_thr=draw.kpt_thr,
                     radius=draw.radius, thickness=draw.thickness, show_kpt_idx=draw.show_kpt_idx,
                     skeleton_style=draw.skeleton_style, draw_bbox=draw.draw_bbox)


def _image(src: Source, model, boxes, out_dir, draw, summary: Summary) -> None:
    import cv2

    image, why = decode_image(src.path)
    if image is None:
        summary.skipped.append((str(src.path), why))
        return
    drawn = _process(image, src.name, model, boxes, draw, summary, want_drawing=out_dir is not None)
    summary.images += 1
    if drawn is not None:
        target = Path(out_dir) / output_name(src)
        ok, encoded = cv2.imencode(target.suffix or ".png", drawn)
        if not ok:
            raise MmpxError(f"could not encode {target}", "use .jpg or .png inputs")
        write_bytes(target, encoded.tobytes())
        summary.outputs.append(str(target))


def _video(src: Source, model, boxes, out_dir, draw, summary: Summary, advance) -> None:
    import cv2

    cap = cv2.VideoCapture(str(src.path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok:
            summary.skipped.append((str(src.path), "not a readable video (no frame could be decoded)"))
            return
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = fps if fps and fps > 0 and np.isfinite(fps) else 25.0  # some containers do not store it
        if out_dir is None:
            _frames(cap, frame, src, model, boxes, draw, summary, advance, None)
            return
        target = Path(out_dir) / output_name(src)
        with atomic_path(target, suffix=".mp4") as tmp:  # cv2 picks the container from the suffix
            h, w = frame.shape[:2]
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            try:
                if not writer.isOpened():
                    raise MmpxError(f"cannot write video {target}: OpenCV has no mp4v encoder here",
                                    "leave out --out-dir for videos, or install an OpenCV build with FFmpeg")
                index = _frames(cap, frame, src, model, boxes, draw, summary, advance, writer)
            finally:
                writer.release()
            check = cv2.VideoCapture(str(tmp))  # cv2's writer reports no failure itself; read the result back
            written = int(check.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if check.isOpened() else 0
            check.release()
            if written == 0:
                raise MmpxError(f"writing {target} failed: the encoder took none of the {index} frames",
                                "leave out --out-dir for this video (--save-json still works), or re-encode it")
        summary.outputs.append(str(target))
    finally:
        cap.release()


def _frames(cap, frame, src: Source, model, boxes, draw, summary: Summary, advance, writer) -> int:
    """Every frame from ``frame`` on: predicted, recorded, drawn into ``writer`` (if any); returns the count."""
    index, ok = 0, True
    while ok:
        drawn = _process(frame, f"{src.name}#frame={index}", model, boxes, draw, summary,
                         want_drawing=writer is not None)
        summary.frames += 1
        if writer is not None:
            writer.write(drawn)
        advance()
        index += 1
        ok, frame = cap.read()
    summary.videos += 1
    return index


def _frame_count(path: Path) -> int:
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return max(1, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)) if cap.isOpened() else 1
    finally:
        cap.release()


class _NoProgress:
    """What ``run`` needs of a rich Progress, doing nothing (``--no-progress`` imports no rich.progress)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def add_task(self, *args, **kwargs) -> int:
        return 0

    def update(self, *args, **kwargs) -> None:
        return None

    def advance(self, *args, **kwargs) -> None:
        return None


def _progress(total: int, enabled: bool):
    if not enabled or total < 2:
        return _NoProgress()
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=False)
