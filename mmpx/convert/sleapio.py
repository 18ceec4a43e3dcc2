"""``mmpx convert dlc|sleap|labelstudio|nwb``: pose files read by sleap-io to COCO keypoints + MMPose metainfo.

The same output as ``mmpx convert labelme`` (``annotations/train.json``, ``val.json``, ``images/``,
``metainfo.py``, ``report.json``, built in a hidden folder and renamed into place). Keypoint names and links
come from the source's skeleton, left/right swaps from its symmetries (else from the names). A point that is
missing, NaN or marked invisible is v=0; every other point v=2 (these formats have no "occluded"). Boxes are
derived from the points as labelme's are. Image files are copied or linked; frames of a video or embedded in an
``.slp`` are written as PNG. Which instances: the user-labelled ones, or the predictions when a file has none.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from pathlib import Path

import numpy as np

from mmpx.convert.coco_writer import CocoSplitWriter, annotation_text
from mmpx.convert.labelme_group import derived_box
from mmpx.convert.output import ImagePlacer, coco_category, staged_output, val_indices
from mmpx.convert.paths import check_out_not_link
from mmpx.convert.sleapio_read import FORMATS, Source, read_source
from mmpx.convert.summary import FileProblem, Report, nothing_converted
from mmpx.convert.yolo import image_size
from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, write_metainfo

COCO_FORMAT = ".4f"  # 0.0001 px: a round trip through these formats stays far inside 0.01 px


def keypoint_set(source: Source, fmt: str) -> tuple[list[str], list[tuple[str, str]], dict[str, str] | None, str]:
    """Names (the source's order), skeleton links, swaps (None: inferred from the names) and where they came
    from. Several skeletons are accepted only when they name the same keypoints."""
    skeletons = source.labels.skeletons
    if not skeletons:
        raise MmpxError(f"{source.path}: no skeleton (no keypoint names)", "label at least one instance")
    names = list(skeletons[0].node_names)
    for other in skeletons[1:]:
        if sorted(other.node_names) != sorted(names):
            raise MmpxError(f"{source.path}: {len(skeletons)} skeletons with different keypoints "
                            f"({skeletons[0].name!r}, {other.name!r})", "convert one skeleton's file at a time")
    if source.order and sorted(source.order) == sorted(names):
        names = source.order
    bad = [n for n in names if "\t" in n or "\n" in n]
    if bad:
        raise MmpxError(f"{source.path}: keypoint name {bad[0]!r} holds a tab or line break", "rename it")
    links = []
    for a, b in skeletons[0].edge_names:
        if a != b and (a, b) not in links and (b, a) not in links:
            links.append((a, b))
    pairs = [sorted(n.name for n in s.nodes) for s in skeletons[0].symmetries]
    swaps = {a: b for a, b in pairs if a != b} or None
    where = "its symmetries" if swaps else "the names"
    called = f" {skeletons[0].name!r}" if skeletons[0].name else ""
    return names, links, swaps, f"{FORMATS[fmt]} skeleton{called}; swaps from {where}"


class Folders:
    """A folder name under ``images/`` per image folder or video file: its name (a video's stem), made unique
    with a number when two differ only in where they lie."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._used: Counter = Counter()

    def name(self, where: str, base: str) -> str:
        if where not in self._names:
            base = base or "video"
            self._used[base] += 1
            self._names[where] = base if self._used[base] == 1 else f"{base}-{self._used[base]}"
        return self._names[where]


def frame_source(lf, folders: Folders, images: str, root: Path) -> tuple[str, str | None]:
    """The frame's ``file_name`` and its image file (None: a video or embedded frame, written as PNG)."""
    files = lf.video.filename
    if isinstance(files, list):
        if not 0 <= lf.frame_idx < len(files):
            raise FileProblem(f"{files[0] if files else '?'} (frame {lf.frame_idx})",
                              "names a frame its image list does not have")
        path = str(files[lf.frame_idx])
        if not os.path.isabs(path) and not os.path.exists(path):
            path = str(root / path)
        if images == "none":
            return Path(os.path.relpath(path, root)).as_posix(), path
        parent = os.path.dirname(os.path.abspath(path))
        return f"{folders.name(parent, os.path.basename(parent))}/{os.path.basename(path)}", path
    if images == "none":
        raise MmpxError(f"{files}, frame {lf.frame_idx}: a video or embedded frame has no image file that "
                        "--images none could name", "use --images copy (frames are written as PNG)")
    # the frames embedded in an .slp: one file, one dataset per video; named after the video they came from
    original = getattr(lf.video, "source_video", None)
    named = original.filename if original is not None else files
    stem = Path(named[0]).parent.name if isinstance(named, list) and named else Path(str(named)).stem
    folder = folders.name(f"{os.path.abspath(str(files))}|{id(lf.video)}", stem)
    return f"{folder}/{lf.frame_idx:06d}.png", None


def place_frame(lf, file_name: str, path: str | None, images: str, placer: ImagePlacer) -> tuple[int, int]:
    """Copy or link the image file, or decode the frame and write it as PNG; the image's (width, height)."""
    if path is not None:
        width, height = image_size(path)
        if images != "none":
            placer.place(path, file_name)
        return width, height
    data, width, height = frame_png(lf)
    placer.write_bytes(file_name, data)
    return width, height


def frame_png(lf) -> tuple[bytes, int, int]:
    """A video or embedded frame decoded and encoded as PNG (lossless: the same frame gives the same bytes, which
    is how ``--append`` recognises it), and its (width, height)."""
    import cv2

    where = f"{lf.video.filename}, frame {lf.frame_idx}"
    try:
        frame = lf.image
    except Exception as exc:  # sleap-io's video backends raise anything from OSError to IndexError
        raise FileProblem(where, f"cannot read the frame: {type(exc).__name__}: {exc}",
                          "check the video is beside the file (or embed the frames)") from None
    if not isinstance(frame, np.ndarray):
        raise FileProblem(where, "cannot read the frame", "check the video is beside the file")
    height, width = frame.shape[:2]
    if frame.ndim == 3 and frame.shape[2] == 3:
        frame = frame[:, :, ::-1]  # sleap-io reads RGB; OpenCV writes BGR
    ok, data = cv2.imencode(".png", frame)
    if not ok:
        raise FileProblem(where, "cannot encode the frame as PNG")
    return data.tobytes(), width, height


def frame_instances(lf, use_predictions: bool) -> list:
    """The user-labelled instances, or the predicted ones when ``use_predictions`` and there are none."""
    return list(lf.user_instances) or (list(lf.predicted_instances) if use_predictions else [])


def instance_points(instance, names: list[str], node_names: list[str], width: int,
                    height: int) -> tuple[list[tuple], int]:
    """The labelled points as ``(index, name, x, y, 2)``: NaN, missing or invisible points are left out (v=0),
    and so are points outside the image (predictions may lie there), which are counted."""
    xy = instance.numpy()
    by_name = dict(zip(node_names, xy, strict=False))
    points, outside = [], 0
    for i, name in enumerate(names):
        x, y = by_name.get(name, (math.nan, math.nan))
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        if 0 <= x <= width and 0 <= y <= height:
            points.append((i, name, float(x), float(y), 2))
        else:
            outside += 1
    return points, outside


def convert_sleapio(fmt: str, src: str | Path, out: str | Path, images: str = "copy", category: str | None = None,
                    val_ratio: float = 0.2, seed: int = 0, overwrite: bool = False, strict: bool = False) -> Report:
    """Convert a DeepLabCut, SLEAP, Label Studio or NWB file (``fmt``: a key of :data:`FORMATS`) to
    ``OUT/annotations/{train,val}.json``, ``OUT/images/<video>/``, ``OUT/metainfo.py`` and ``OUT/report.json``.

    Args:
        fmt: ``dlc``, ``sleap``, ``labelstudio`` or ``nwb``.
        src: the file (a DeepLabCut project folder too).
        out: output folder, built beside itself and renamed into place when complete.
        images: ``copy``, ``link`` (video frames are written either way) or ``none`` (image files only).
        category: COCO category name (default: the skeleton's name).
        val_ratio, seed: the share of frames that go to val, and the seed of that split.
        overwrite: replace an existing ``out`` that mmpx wrote.
        strict: raise on the first unreadable frame instead of skipping it.

    Raises:
        MmpxError: an unreadable source (naming the file and what was expected); every frame bad.
    """
    start = time.perf_counter()
    out = Path(out)
    check_out_not_link(out)
    val_indices(0, val_ratio, seed)  # the ratio checked before any reading
    source = read_source(fmt, src)
    labels = source.labels
    names, links, swaps, described = keypoint_set(source, fmt)
    skeleton_name = labels.skeletons[0].name or ""
    report = Report(fmt, str(source.path), str(out), images_mode=images, keypoint_names=names,
                    keypoints_source=described)
    frames = sorted(labels.labeled_frames, key=lambda lf: (labels.videos.index(lf.video), lf.frame_idx))
    use_predictions = not any(lf.user_instances for lf in frames)
    if use_predictions and any(lf.predicted_instances for lf in frames):
        report.warn(str(source.path), "no user-labelled instance: the predicted instances are converted")
    val = val_indices(len(frames), val_ratio, seed)
    categories = [coco_category(1, category or skeleton_name or "object", names, links)]
    labelled, visibility = Counter(), Counter()
    with staged_output(out, overwrite, inputs=[source.path, src]) as stage:
        placer = ImagePlacer(stage / "images", images)
        writers = {split: CocoSplitWriter(stage, split) for split in ("train", "val") if split == "train" or val}
        ann_id, seen, folders = 0, set(), Folders()
        report.files_read = len(frames)
        for index, lf in enumerate(frames):
            try:
                file_name, path = frame_source(lf, folders, images, source.root)
                if file_name in seen:  # one image labelled twice (e.g. two Label Studio tasks)
                    report.warn(file_name, "the same image is labelled twice: the first is converted")
                    continue
                seen.add(file_name)
                width, height = place_frame(lf, file_name, path, images, placer)
            except FileProblem as problem:
                if strict:
                    raise
                report.skip(problem)
                continue
            writer = writers["val" if index in val else "train"]
            image_id = report.files_converted + 1
            writer.add_image(image_id, file_name, width, height)
            count = 0
            for instance in frame_instances(lf, use_predictions):
                points, outside = instance_points(instance, names, list(instance.skeleton.node_names), width, height)
                if outside:
                    report.warn(file_name, f"{outside} point(s) outside the image: left out (v=0)")
                if not points:  # no point and no box: nothing to learn from, not written (but counted)
                    report.instances_without_keypoints += 1
                    continue
                ann_id += 1
                count += 1
                box = derived_box(points, width, height)
                writer.add_annotation(ann_id, image_id, annotation_text(1, box, points, COCO_FORMAT))
            report.files_converted += 1
            report.instances += count
            report.images_without_instances += not count
        if report.files_converted == 0 and report.skipped:
            raise nothing_converted(report, report.files_read, source.path)
        info = dict(description=f"converted from {FORMATS[fmt]} by mmpose-ext ({source.path})", version="1.0")
        for split, writer in writers.items():
            writer.finish(stage / "annotations" / f"{split}.json", categories, names, info, labelled, visibility)
            report.images[split] = writer.num_images
            report.outputs.append(f"annotations/{split}.json")
        dataset = skeleton_name or source.path.stem
        write_metainfo(stage / "metainfo.py", build_metainfo(dataset, names, skeleton=links, swaps=swaps))
        report.keypoints_labelled = {n: labelled.get(n, 0) for n in names}
        report.visibility = {str(v): visibility.get(v, 0) for v in (1, 2)}
        report.outputs += (["images/"] if images != "none" else []) + ["metainfo.py", "report.json"]
        report.seconds = round(time.perf_counter() - start, 3)
        report.write(stage)
    return report
