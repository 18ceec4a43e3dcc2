"""``mmpx convert dlc|sleap|labelstudio|nwb SRC OUT --append``: add the frames of a pose file that the dataset in
``OUT`` does not hold yet.

The usual case is the same DeepLabCut project or ``.slp`` file with more frames labelled since ``OUT`` was made.
Each frame is read as :func:`~mmpx.convert.sleapio.convert_sleapio` reads it (an image file, or a video or
embedded frame encoded as PNG) and hashed: a frame whose bytes the dataset already holds is a duplicate and left
out (the same decoded frame encodes to the same PNG bytes, so video frames are recognised too). Its labels are
never updated; a warning says when they differ. New frames get the next ids, their own seeded split and a name
no existing image has (``-2``, ...). The keypoints are the dataset's: the source must name the same set, in any
order (points are mapped by name). Nothing existing changes: the dataset is rebuilt beside ``OUT`` (hard links)
and swapped in whole, as ``convert labelme --append`` does (:mod:`mmpx.convert.labelme_append`).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from pathlib import Path

from mmpx.atomic.lock import hold
from mmpx.convert.append_dataset import (
    SPLITS,
    AppendReport,
    Existing,
    check_category,
    finish_append,
    image_index,
    images_mode,
    link_tree,
    none_root,
    read_existing,
)
from mmpx.convert.append_images import ImageIndex, file_sha1
from mmpx.convert.coco_writer import CocoSplitWriter, annotation_text
from mmpx.convert.labelme_group import derived_box
from mmpx.convert.output import ImagePlacer, recovered, staged_output, val_indices
from mmpx.convert.paths import NotRegular, check_out_not_link
from mmpx.convert.sleapio import (
    COCO_FORMAT,
    Folders,
    frame_instances,
    frame_png,
    frame_source,
    instance_points,
    keypoint_set,
)
from mmpx.convert.sleapio_read import FORMATS, Source, read_source
from mmpx.convert.summary import FileProblem, nothing_converted
from mmpx.convert.yolo import image_size
from mmpx.errors import MmpxError

SAME_POINT = 0.01  # px: the datasets hold 2 (labelme) or 4 (sleap-io converters) decimals


def append_sleapio(fmt: str, src: str | Path, out: str | Path, images: str | None = None,
                   category: str | None = None, val_ratio: float = 0.2, seed: int = 0,
                   strict: bool = False) -> AppendReport:
    """Add the frames of ``src`` (``fmt``: a key of :data:`~mmpx.convert.sleapio_read.FORMATS`) that the dataset
    in ``out`` does not hold to it.

    Args:
        fmt: ``dlc``, ``sleap``, ``labelstudio`` or ``nwb``.
        src: the file (a DeepLabCut project folder too), as for :func:`~mmpx.convert.sleapio.convert_sleapio`.
        out: a dataset written by ``mmpx convert labelme|dlc|sleap|labelstudio|nwb``; replaced atomically.
        images: ``copy``, ``link`` or ``none``; default: the dataset's mode (``none`` only with ``none``).
        category: optional; must be the dataset's category name.
        val_ratio, seed: the share of the new frames that go to val, and the seed of their split.
        strict: raise on the first unreadable frame (``out`` is then left as it was).

    Returns:
        The :class:`~mmpx.convert.append_dataset.AppendReport`, also added to ``appends`` in ``OUT/report.json``.

    Raises:
        MmpxError: ``out`` missing or not such a dataset, other keypoints than the dataset's, options that
            disagree with it, an unreadable source, every new frame bad; with ``strict``, the first bad frame.
    """
    out = Path(out)
    # the lock first: two appends must not both read the same dataset and take the same new ids
    with hold(out, "dataset"), recovered(out):
        return _append(fmt, src, out, images, category, val_ratio, seed, strict)


def _append(fmt: str, src, out: Path, images, category, val_ratio, seed, strict) -> AppendReport:
    start = time.perf_counter()
    check_out_not_link(out)
    val_indices(0, val_ratio, seed)  # the ratio checked before any reading
    base = read_existing(out, fmt)
    check_category(base, category)
    mode = images_mode(base, images)
    root = none_root(base) if mode == "none" else None
    source = read_source(fmt, src)
    described = _same_keypoints(source, fmt, base)
    labels = source.labels
    frames = sorted(labels.labeled_frames, key=lambda lf: (labels.videos.index(lf.video), lf.frame_idx))
    use_predictions = not any(lf.user_instances for lf in frames)
    first_image, first_ann = base.max_id("images") + 1, base.max_id("annotations") + 1
    report = AppendReport(fmt, str(source.path), str(out), images_mode=mode, files_read=len(frames),
                          keypoints_source=described, keypoint_names=list(base.names),
                          first_ids=dict(image=first_image, annotation=first_ann))
    if use_predictions and any(lf.predicted_instances for lf in frames):
        report.warn(str(source.path), "no user-labelled instance: the predicted instances are taken")
    with staged_output(out, overwrite=True, inputs=[source.path, src]) as stage:
        link_tree(out, stage)
        frames_in = _Frames(base, stage, mode, root, image_index(base, root), use_predictions, source.root)
        added = []
        for lf in frames:
            try:
                entry = frames_in.take(lf, report)
            except FileProblem as problem:
                if strict:
                    raise
                report.skip(problem)
                continue
            if entry is not None:
                added.append(entry)
        if not added and report.skipped and not report.duplicates:
            raise nothing_converted(report, len(frames), source.path)
        if frames_in.index.unreadable:
            report.warn(str(out), f"{len(frames_in.index.unreadable)} existing image(s) could not be read (e.g. "
                        f"{frames_in.index.unreadable[0]}), so new frames were not checked for duplicates of them")
        writers = {split: CocoSplitWriter(stage, split) for split in SPLITS}
        _write(added, base, writers, report, val_indices(len(added), val_ratio, seed), first_image, first_ann,
               use_predictions)
        finish_append(stage, base, report, writers, Counter(), start)
        base.check_unchanged()
    return report


def _same_keypoints(source: Source, fmt: str, base: Existing) -> str:
    """The source must name the dataset's keypoints or some of them (any order: points are mapped by name; a
    Label Studio file names only the keypoints labelled in it); where they came from."""
    names = keypoint_set(source, fmt)[0]
    extra = [n for n in names if n not in base.names]
    if extra:
        raise MmpxError(f"--append: {source.path} has the keypoint(s) {', '.join(extra)}, which the dataset in "
                        f"{base.out} does not have (it has {', '.join(base.names)})",
                        "append only files labelled with the dataset's keypoints; other keypoints need a new "
                        "dataset (convert without --append)")
    notes = [] if names == base.names else [f"{FORMATS[fmt]}'s other order mapped by name"]
    if len(names) < len(base.names):
        absent = [n for n in base.names if n not in names]
        notes = [f"{', '.join(absent)} not in {source.path.name}: unlabelled (v=0) in its frames"]
    return f"the dataset ({base.out / 'annotations'})" + "".join(f"; {n}" for n in notes)


class _Frames:
    """Each frame of the source: a duplicate of an image the dataset holds (reported), or placed in the staging
    folder under a free name and returned as ``(frame, file_name, width, height)``."""

    def __init__(self, base: Existing, stage: Path, mode: str, root: Path | None, index: ImageIndex,
                 use_predictions: bool, source_root: Path) -> None:
        self.base, self.mode, self.root, self.index = base, mode, root, index
        self.images = stage / "images"
        self.placer = ImagePlacer(self.images, mode)
        self.use_predictions, self.source_root = use_predictions, source_root
        self.folders, self.seen = Folders(), set()
        self.old_points = _points_by_image(base)

    def take(self, lf, report: AppendReport) -> tuple | None:
        file_name, path = frame_source(lf, self.folders, self.mode, self.source_root)
        where = path or f"{lf.video.filename}, frame {lf.frame_idx}"
        if self.root is not None:  # --images none: relative to the folder the dataset's names start from
            file_name = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.root))).as_posix()
        if file_name in self.seen:  # one image labelled twice (e.g. two Label Studio tasks)
            report.warn(file_name, "the same image is labelled twice: the first is taken")
            return None
        self.seen.add(file_name)
        if path is not None:
            width, height = image_size(path)
            data, digest, size = None, _sha1(path), os.stat(path).st_size
        else:
            data, width, height = frame_png(lf)
            digest, size = hashlib.sha1(data).hexdigest(), len(data)
        found = self.index.find(digest, size)
        if found is None and self.mode == "none" and file_name in self.index.names:
            found = (file_name, self.index.names[file_name])  # the very file (its bytes changed since)
        if found is not None:
            self._duplicate(lf, where, found, width, height, report)
            return None
        if self.mode != "none":
            stem, ext = os.path.splitext(file_name)
            file_name = self._free_name(stem, ext)
            if data is not None:
                self.placer.write_bytes(file_name, data)
            else:
                self.placer.place(path, file_name)
        self.index.add(digest, file_name, -1)  # a later frame with these bytes is a duplicate of this one
        return lf, file_name, width, height

    def _free_name(self, stem: str, ext: str) -> str:
        """``stem + ext``, else ``stem-2 + ext``, ...: a name no image has, on disk or in the records."""
        name, n = stem + ext, 1
        while name.casefold() in self.index.folded or os.path.lexists(self.images / name):
            n += 1
            name = f"{stem}-{n}{ext}"
        return name

    def _duplicate(self, lf, where: str, found: tuple[str, int], width: int, height: int,
                   report: AppendReport) -> None:
        file_name, image_id = found
        if image_id < 0:  # a frame this append adds: the source holds the same image twice
            report.warn(where, f"the same image as {file_name}, which this append adds: not added twice")
            return
        shown = file_name if self.mode == "none" else f"images/{file_name}"
        report.duplicates.append(dict(file=where, duplicate_of=shown, image_id=image_id))
        instances = frame_instances(lf, self.use_predictions)
        new = [p for p in (self._points(inst, width, height) for inst in instances) if p]
        if not _same_instances(new, self.old_points.get(image_id, [])):
            report.warn(where, f"labelled differently from {shown} (image id {image_id}), which the dataset holds: "
                        "its labels were not updated (an append never changes existing records)")

    def _points(self, instance, width: int, height: int) -> list[tuple]:
        points, _ = instance_points(instance, self.base.names, list(instance.skeleton.node_names), width, height)
        return [(i, x, y) for i, _, x, y, _ in points]


def _sha1(path: str) -> str:
    try:
        return file_sha1(path)
    except NotRegular as exc:
        raise FileProblem(path, f"is {exc.what}, not a regular file; only regular files are read",
                          "replace it with the image file itself") from None
    except OSError as exc:
        raise FileProblem(path, f"cannot read the image: {exc}", "check the file is a readable image") from None


def _points_by_image(base: Existing) -> dict[int, list[list[tuple]]]:
    """Per image id, each annotation's labelled points as ``(index, x, y)``."""
    found: dict[int, list[list[tuple]]] = {}
    for ann in base.records("annotations"):
        kps = ann.get("keypoints") or []
        points = [(i // 3, kps[i], kps[i + 1]) for i in range(0, len(kps) - 2, 3) if kps[i + 2] > 0]
        if points:
            found.setdefault(ann.get("image_id"), []).append(points)
    return found


def _same_instances(new: list[list[tuple]], old: list[list[tuple]]) -> bool:
    """The same instances in any order, each point within :data:`SAME_POINT`."""
    if len(new) != len(old):
        return False
    left = list(old)
    for points in new:
        match = next((o for o in left if len(o) == len(points) and all(
            i == j and abs(x - u) <= SAME_POINT and abs(y - v) <= SAME_POINT
            for (i, x, y), (j, u, v) in zip(points, o, strict=True))), None)
        if match is None:
            return False
        left.remove(match)
    return True


def _write(added: list[tuple], base: Existing, writers: dict, report: AppendReport, val: set[int],
           first_image: int, first_ann: int, use_predictions: bool) -> None:
    """The new frames' records: ids in the source's frame order, after the dataset's."""
    category_id = base.category.get("id", 1)
    ann_id = first_ann - 1
    for k, (lf, file_name, width, height) in enumerate(added):
        image_id = first_image + k
        writer = writers["val" if k in val else "train"]
        writer.add_image(image_id, file_name, width, height)
        count = 0
        for instance in frame_instances(lf, use_predictions):
            points, outside = instance_points(instance, base.names, list(instance.skeleton.node_names), width,
                                              height)
            if outside:
                report.warn(file_name, f"{outside} point(s) outside the image: left out (v=0)")
            if not points:  # no point and no box: nothing to learn from, not written (but counted)
                report.instances_without_keypoints += 1
                continue
            ann_id += 1
            count += 1
            box = derived_box(points, width, height)
            writer.add_annotation(ann_id, image_id, annotation_text(category_id, box, points, COCO_FORMAT))
        report.files_converted += 1
        report.instances += count
        report.images_without_instances += not count
