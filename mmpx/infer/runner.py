"""The ``mmpx infer`` loop: read each image or video frame, find boxes, predict keypoints, draw, write.

Videos go through :func:`mmpx.infer.sequence.sequence_poses` (frames decoded in a background thread, crops of
several frames batched, track ids, smoothing, the box source every N frames); their frames are drawn and encoded
by a second thread (:class:`mmpx.infer.writer.FrameWriter`), while records, pre-labels and trajectory rows stay
in this one. With tracking on, an image is a one-frame sequence. Unreadable images and videos, and those above
the pixel limit (``MMPX_MAX_IMAGE_PIXELS``, refused by the size their header declares, before decoding), are
skipped and listed in the summary (the others are still processed); a drawn image, a drawn video, the JSON and
the trajectory table each appear atomically (temporary file, then ``os.replace``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmpx.atomic import atomic_path, clean_stale, write_bytes, write_json
from mmpx.check.images import decode_image, max_image_pixels
from mmpx.errors import MmpxError
from mmpx.infer.classes import instance_class
from mmpx.infer.frames import frame_count
from mmpx.infer.inputs import Source, output_name
from mmpx.infer.mixed import MixedModel, cut_instances, draw_instances, frame_records, unpack
from mmpx.infer.results import add_track_fields, add_visible, keypoint_names
from mmpx.infer.sequence import FramePoses, SequenceOptions, has_visibility, sequence_poses

WRITER_THREAD = True  # drawn videos are drawn and encoded by a thread; benchmarks/video.py compares with False


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
    tracks: dict[str, int] = field(default_factory=dict)  # video name -> tracks found (with tracking)
    table: object = None  # the TrajectoryTable, when one is asked for
    table_paths: list[str] = field(default_factory=list)


def run(sources: list[Source], model, boxes, *, out_dir: Path | None = None, save_json: Path | None = None,
        draw: DrawOptions | None = None, progress: bool = True, sequence: SequenceOptions | None = None,
        save_tables: list[Path] = (), decode_thread: bool = True, labelme=None) -> Summary:
    """Run ``model`` (the pose-model interface) on every source, with boxes from ``boxes(image) -> (xyxy, scores)``.

    Args:
        sequence: how videos are processed (tracking, smoothing, ``det_every``, frames per batch).
        save_tables: trajectory files to write (``.csv``, or ``.parquet``); they need tracking.
        decode_thread: decode video frames in a background thread.
        labelme: a :class:`~mmpx.infer.labelme_out.LabelmeSink` writing a pre-label per image and frame.
    """
    from mmpx.infer.trajectories import TrajectoryTable

    draw = draw or DrawOptions()
    sequence = sequence or SequenceOptions()
    sequence.check()
    if draw.draw_heatmap and (sequence.track is not None or sequence.det_every > 1):
        raise MmpxError("--draw-heatmap works frame by frame: it does not combine with tracking or --det-every",
                        "leave out --draw-heatmap, or --track/--smooth/--save-csv/--det-every")
    if save_tables and sequence.track is None:
        raise MmpxError("a trajectory table has a row per track: it needs tracking", "add --track")
    summary = Summary()
    mixed = isinstance(model, MixedModel)
    if draw.draw_heatmap and mixed:
        raise MmpxError("--draw-heatmap draws one class's heatmaps: the boxes here are of several classes",
                        "leave out --draw-heatmap, or give the class of every box with --class NAME")
    if save_tables:
        summary.table = TrajectoryTable(keypoint_names(model.dataset_meta), kpt_thr=draw.kpt_thr,
                                        class_name=instance_class(model.dataset_meta)[1],
                                        classes=[(m["class_name"], keypoint_names(m)) for m in model.metas]
                                        if mixed else None)
    max_image_pixels()  # a bad MMPX_MAX_IMAGE_PIXELS stops the run now, not at the first image
    if out_dir is not None:
        clean_stale(out_dir, recursive=True)  # temporary files of killed runs
    if labelme is not None:
        labelme.check(sources)
    start = time.perf_counter()
    total = sum(frame_count(s.path) if s.kind == "video" else 1 for s in sources)
    try:
        with progress_bar(total, enabled=progress) as bar:
            task = bar.add_task("infer", total=total)
            for src in sources:
                bar.update(task, description=src.name[-40:])
                if src.kind == "image":
                    _image(src, model, boxes, out_dir, draw, summary, sequence, labelme)
                    bar.advance(task)
                else:
                    _video(src, model, boxes, out_dir, draw, summary, lambda: bar.advance(task), sequence,
                           decode_thread, labelme)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: a long job stopped by a time limit keeps what it finished
        _write_results(summary, save_json, save_tables)
        raise
    _write_results(summary, save_json, save_tables)
    summary.seconds = time.perf_counter() - start
    return summary


def _write_results(summary: Summary, save_json: Path | None, save_tables) -> None:
    """The JSON records and trajectory tables of what was processed, each file whole (atomic)."""
    if save_json is not None:
        write_json(save_json, summary.records, indent=None)
        summary.json_path = str(save_json)
    for path in save_tables:
        summary.table.write(path)
        summary.table_paths.append(str(path))


def _process(image: np.ndarray, name: str, model, boxes, draw: DrawOptions, summary: Summary,
             want_drawing: bool, labelme=None, src: Source | None = None, frame: int | None = None
             ) -> np.ndarray | None:
    """Boxes, keypoints, JSON records (and pre-label) of one image; returns the drawn image when asked for."""
    from mmpx.visual.draw import draw_heatmap

    bboxes, bbox_scores, classes = unpack(boxes(image))
    if len(bboxes) == 0:
        summary.no_boxes[name] = summary.no_boxes.get(name, 0) + 1
    heatmaps = visible = None
    with_maps = draw.draw_heatmap and want_drawing
    if with_maps:
        keypoints, scores, heatmaps = model.predict_with_heatmaps(image, bboxes)
    if has_visibility(model):  # (the heatmaps' keypoints are these: one model, one crop each)
        keypoints, scores, visible = model.predict_with_visibility(image, bboxes)
    elif not with_maps:
        keypoints, scores = model.predict(image, bboxes)
    image_id = summary.images + summary.frames + 1
    summary.records += add_visible(frame_records(image_id, name, model, keypoints, scores, bboxes, bbox_scores,
                                                 classes), visible)
    summary.instances += len(keypoints)
    _prelabel(labelme, src, frame, image, keypoints, scores, bboxes, model, classes, visible)
    if not want_drawing:
        return None
    canvas = draw_heatmap(image, heatmaps) if heatmaps is not None else image
    return draw_instances(canvas, keypoints, scores, model, classes, bboxes=bboxes, kpt_thr=draw.kpt_thr,
                          radius=draw.radius, thickness=draw.thickness, show_kpt_idx=draw.show_kpt_idx,
                          skeleton_style=draw.skeleton_style, draw_bbox=draw.draw_bbox)


def _image(src: Source, model, boxes, out_dir, draw, summary: Summary, sequence: SequenceOptions,
           labelme=None) -> None:
    import cv2

    image, why = decode_image(src.path)
    if image is None:
        summary.skipped.append((str(src.path), why))
        return
    if sequence.track is not None:  # a one-frame sequence: its instances get track ids 1, 2, ...
        (pose,) = sequence_poses([image], model, boxes, sequence)
        _record(pose, src.name, src.name, summary, model)
        drawn = _draw_frame(pose, model, draw) if out_dir is not None else None
        _prelabel(labelme, src, None, image, pose.keypoints, pose.scores, pose.bboxes, model, pose.classes,
                  pose.visible)
    else:
        drawn = _process(image, src.name, model, boxes, draw, summary, want_drawing=out_dir is not None,
                         labelme=labelme, src=src)
    summary.images += 1
    if drawn is not None:
        target = Path(out_dir) / output_name(src)
        ok, encoded = cv2.imencode(target.suffix or ".png", drawn)
        if not ok:
            raise MmpxError(f"could not encode {target}", "use .jpg or .png inputs")
        write_bytes(target, encoded.tobytes())
        summary.outputs.append(str(target))


def _video(src: Source, model, boxes, out_dir, draw, summary: Summary, advance, sequence: SequenceOptions,
           decode_thread: bool = True, labelme=None) -> None:
    import cv2

    from mmpx.infer.frames import FrameReader
    from mmpx.infer.writer import FrameWriter

    with FrameReader(src.path, thread=decode_thread) as reader:
        if reader.first is None:
            summary.skipped.append((str(src.path), reader.problem))
            return
        if out_dir is None:
            _frames(reader, src, model, boxes, draw, summary, advance, None, sequence, labelme)
            return
        target = Path(out_dir) / output_name(src)
        with atomic_path(target, suffix=".mp4") as tmp:  # cv2 picks the container from the suffix
            h, w = reader.first.shape[:2]
            # --draw-heatmap draws in this thread (torch gives its heatmaps frame by frame)
            with FrameWriter(tmp, reader.fps, (w, h), name=target,
                             thread=WRITER_THREAD and not draw.draw_heatmap) as writer:
                index = _frames(reader, src, model, boxes, draw, summary, advance, writer, sequence, labelme)
            check = cv2.VideoCapture(str(tmp))  # cv2's writer reports no failure itself; read the result back
            written = int(check.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if check.isOpened() else 0
            check.release()
            if written == 0:
                raise MmpxError(f"writing {target} failed: the encoder took none of the {index} frames",
                                "leave out --out-dir for this video (--save-json still works), or re-encode it")
        summary.outputs.append(str(target))


def _frames(reader, src: Source, model, boxes, draw, summary: Summary, advance, writer,
            sequence: SequenceOptions, labelme=None) -> int:
    """Every frame of ``reader``: predicted, recorded, drawn into ``writer`` (if any); returns the count."""
    index = 0
    if draw.draw_heatmap and writer is not None:  # heatmaps come frame by frame (torch backend)
        for frame in reader:
            writer.put(_same, _process(frame, f"{src.name}#frame={index}", model, boxes, draw, summary, True,
                                       labelme, src, index))
            summary.frames += 1
            advance()
            index += 1
    else:
        tracks: set[int] = set()
        for pose in sequence_poses(reader, model, boxes, sequence, fps=reader.fps):
            _record(pose, f"{src.name}#frame={pose.index}", src.name, summary, model)
            _prelabel(labelme, src, pose.index, pose.image, pose.keypoints, pose.scores, pose.bboxes, model,
                      pose.classes, pose.visible)
            if pose.track_ids is not None:
                tracks.update(pose.track_ids.tolist())
            if writer is not None:  # drawn and encoded by the writer's thread, while the next frames are predicted
                writer.put(_draw_frame, pose, model, draw)
            summary.frames += 1
            advance()
            index += 1
        if sequence.track is not None:
            summary.tracks[src.name] = len(tracks)
    summary.videos += 1
    return index


def _record(pose: FramePoses, name: str, video: str, summary: Summary, model) -> None:
    """JSON records and table rows of one frame's poses (in this thread: they keep the frames' order)."""
    if len(pose.bboxes) == 0 and pose.detected:
        summary.no_boxes[video] = summary.no_boxes.get(video, 0) + 1
    image_id = summary.images + summary.frames + 1
    records = frame_records(image_id, name, model, pose.keypoints, pose.scores, pose.bboxes, pose.bbox_scores,
                            pose.classes)
    if pose.classes is None:
        summary.records += add_visible(add_track_fields(records, pose.track_ids, pose.raw_keypoints, pose.scores),
                                       pose.visible)
    else:  # each instance's own keypoints (and raw ones)
        _, scores, _, raw = cut_instances(model, pose.keypoints, pose.scores, pose.classes, pose.raw_keypoints)
        for record, track_id, own_raw, own_scores in zip(records, (pose.track_ids if pose.track_ids is not None
                                                                   else [None] * len(records)), raw, scores,
                                                         strict=True):
            add_track_fields([record], None if track_id is None else [track_id],
                             None if own_raw is None else own_raw[None], own_scores[None])
        summary.records += records
    summary.instances += len(pose.keypoints)
    if summary.table is not None and pose.track_ids is not None:
        summary.table.add(video, pose.index, pose.time, pose.track_ids, pose.keypoints, pose.scores,
                          pose.raw_keypoints, classes=pose.classes, visible=pose.visible)


def _draw_frame(pose: FramePoses, model, draw: DrawOptions) -> np.ndarray:
    """One frame's poses (and track ids) drawn on a copy of its image; runs in the video writer's thread."""
    from mmpx.infer.track import draw_track_ids

    tracked = pose.track_ids is not None
    drawn = draw_instances(pose.image, pose.keypoints, pose.scores, model, pose.classes, bboxes=pose.bboxes,
                           kpt_thr=draw.kpt_thr, radius=draw.radius, thickness=draw.thickness,
                           show_kpt_idx=draw.show_kpt_idx, skeleton_style=draw.skeleton_style,
                           draw_bbox=draw.draw_bbox and not tracked)
    if tracked:
        draw_track_ids(drawn, pose.bboxes, pose.track_ids, thickness=draw.thickness, draw_bbox=draw.draw_bbox)
    return drawn


def _same(frame: np.ndarray) -> np.ndarray:
    return frame


def _prelabel(labelme, src: Source | None, frame: int | None, image, keypoints, scores, bboxes, model=None,
              classes=None, visible=None) -> None:
    if labelme is None:
        return
    own = None
    if classes is not None:  # each instance its class's keypoints and names, its rectangle labelled with it
        keypoints, scores, metas, _ = cut_instances(model, keypoints, scores, classes)
        own = [(m["class_name"], keypoint_names(m)) for m in metas]
    if frame is None:
        labelme.image(src, image, keypoints, scores, bboxes, own, visible=visible)
    else:
        labelme.frame(src, frame, image, keypoints, scores, bboxes, own, visible=visible)


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


def progress_bar(total: int, enabled: bool):
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
