"""``mmpx convert labelme``: a folder of labelme JSON files to COCO keypoints, images and MMPose metainfo.

One pass over the files, sorted so that ids are stable: each is parsed, grouped into instances, its image
copied, linked or written out, and its records spooled; keypoint names (when not given) are collected on the
way and the COCO files assembled at the end. Large folders are read by worker processes in chunks (parsing
JSON is most of the cost); results come back in file order, so the output is the same with any number of
workers.
See ``docs/guides/convert.md`` for the rules and outputs.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.convert.coco_writer import CocoSplitWriter, annotation_text
from mmpx.convert.labelme_classes import (
    ClassJob,
    class_job,
    class_spec,
    classify,
    known_points,
    label_stats,
    label_warning,
    merge_stats,
)
from mmpx.convert.labelme_group import group_instances
from mmpx.convert.labelme_images import ImageHandler, scan_json_files
from mmpx.convert.labelme_read import read_labelme
from mmpx.convert.output import IMAGE_MODES, coco_category, skeleton_and_swaps, staged_output, val_indices
from mmpx.convert.paths import check_out_not_link, clashes
from mmpx.convert.summary import FileProblem, Report, nothing_converted
from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, keypoint_names, load_metainfo, write_metainfo
from mmpx.metainfo.classes import build_classes_metainfo, union_name

Progress = Callable[[int, int], None]
CHUNK_FILES = 128  # files per worker task: amortises inter-process traffic, keeps results flowing in order
PARALLEL_MIN_FILES = 1000  # below this, starting workers costs more than it saves


def keypoint_spec(keypoints: str | Sequence[str] | None, metainfo: str | Path | None) -> dict:
    """Names, skeleton, swaps, sigmas, weights from ``--keypoints`` or ``--metainfo`` (none: inferred)."""
    if keypoints and metainfo:
        raise MmpxError("give either --keypoints or --metainfo, not both",
                        "--metainfo already names the keypoints (and the skeleton and swaps)")
    if metainfo:
        info = load_metainfo(metainfo)
        skeleton, swaps = skeleton_and_swaps(info)
        return dict(names=keypoint_names(info), skeleton=skeleton, swaps=swaps, sigmas=info.get("sigmas"),
                    joint_weights=info.get("joint_weights"), dataset_name=info.get("dataset_name"),
                    source=f"--metainfo {metainfo}")
    names = [k.strip() for k in keypoints.split(",")] if isinstance(keypoints, str) else list(keypoints or [])
    names = [k for k in names if k]
    if len(set(names)) != len(names):
        dupes = sorted({k for k in names if names.count(k) > 1})
        raise MmpxError(f"--keypoints names {', '.join(dupes)} more than once", "list each keypoint once")
    return dict(names=names, skeleton=[], swaps=None, sigmas=None, joint_weights=None, dataset_name=None,
                source="--keypoints" if names else "inferred from the point labels (sorted)")


@dataclass(frozen=True)
class ChunkJob:
    """What converting one file needs; sent once to each worker."""

    src: str
    stage: Path
    images: str
    known: frozenset[str] | None
    known_hint: str
    refused: Mapping[str, str] = field(default_factory=dict)  # path -> why it is skipped before it is read
    classes: ClassJob | None = None  # --classes: each instance's class from its rectangle's label


def output_clashes(src: str, files: Sequence[str], images: str) -> dict[str, str]:
    """Files whose image would get the name another file's image gets (``images/<json path>.<ext>``, compared
    without case): each is refused, none silently overwritten. Nothing is written with ``--images none``."""
    if images == "none":
        return {}
    prefix = len(os.path.join(src, ""))
    stems = ((path, path[prefix:], os.path.splitext(path[prefix:])[0]) for path in files)
    return clashes((path, rel, f"images/{Path(stem).as_posix()}.*") for path, rel, stem in stems)


def convert_chunk(job: ChunkJob, image_for: ImageHandler,
                  chunk: list[tuple[int, str]]) -> tuple[list, set, dict]:
    """Convert files; returns per file ``(index, problem)`` or ``(index, None, file_name, width, height,
    annotation texts, empty instances, warnings, other shapes)``, the keypoint names seen (with ``--classes``,
    as ``<class>/<keypoint>``), and per rectangle label its instances and keypoint names (one class only)."""
    prefix = len(os.path.join(job.src, ""))
    results, names, labels = [], set(), {}
    for index, path in chunk:
        try:
            if path in job.refused:
                raise FileProblem(path, job.refused[path], "rename one of the files")
            lf = read_labelme(path, job.known, job.known_hint)
            instances, warnings = group_instances(lf)
            if job.classes is None:
                label_stats(lf, instances, labels)
                instances = [(1, bbox, points) for bbox, points in instances]
            else:
                instances = [(cid, bbox, [(p[0], union_name(name, p[1]), *p[2:]) for p in points])
                             for cid, name, bbox, points in classify(lf, instances, job.classes)]
            file_name = image_for(path, path[prefix:], lf.image_path, lf.image_data)
            texts, empty = [], 0
            for cid, bbox, points in instances:
                for p in points:
                    if p[1] not in names:
                        if "\t" in p[1] or "\n" in p[1]:  # the spool is tab- and line-separated
                            raise FileProblem(path, f"keypoint label {p[1]!r} (shape {p[0]}) holds a tab or "
                                              "line break", "rename the label")
                        names.add(p[1])
                empty += not points
                texts.append(annotation_text(cid, bbox, points))
        except FileProblem as problem:
            results.append((index, (problem.file, problem.problem, problem.hint)))
            continue
        results.append((index, None, file_name, lf.width, lf.height, texts, empty, warnings, lf.other_shapes))
    return results, names, labels


_worker: tuple[ChunkJob, ImageHandler] | None = None  # a worker process's job, set once by _init_worker


def _init_worker(job: ChunkJob) -> None:
    global _worker
    # Ctrl-C reaches the whole process group: only the main process handles it (it stops the pool); a worker
    # dying of it mid-task may hold the task queue's lock, and then the pool's shutdown waits forever
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker = (job, ImageHandler(job.src, job.stage, job.images))


def _worker_chunk(chunk: list[tuple[int, str]]) -> tuple[list, set, dict]:
    return convert_chunk(*_worker, chunk)


@contextmanager
def _chunk_results(job: ChunkJob, files: list[str], workers: int) -> Iterator[Iterator[tuple[list, set, dict]]]:
    """Results of every chunk of ``files``, in order: in this process, or from a pool of ``workers``."""
    chunks = ([(i, files[i]) for i in range(start, min(start + CHUNK_FILES, len(files)))]
              for start in range(0, len(files), CHUNK_FILES))
    if workers <= 1 or len(files) <= CHUNK_FILES:
        handler = ImageHandler(job.src, job.stage, job.images)
        yield (convert_chunk(job, handler, chunk) for chunk in chunks)
        return
    # fork is fast and safe while this process runs no other thread; otherwise spawn
    method = "fork" if threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods() \
        else "spawn"
    with _sigint_ignored():  # workers start with Ctrl-C ignored (inherited), before _init_worker can run
        pool = multiprocessing.get_context(method).Pool(workers, _init_worker, (job,))
    with pool:
        yield pool.imap(_worker_chunk, chunks)  # leaving the block terminates the workers, even on error


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():  # signal handlers are the main thread's
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def default_workers(num_files: int) -> int:
    """Worker processes for ``num_files`` files: none for small folders, else one per CPU (at most 4)."""
    return 0 if num_files < PARALLEL_MIN_FILES else min(os.cpu_count() or 1, 4)


def convert_labelme(
    src: str | Path,
    out: str | Path,
    keypoints: str | Sequence[str] | None = None,
    metainfo: str | Path | None = None,
    category: str = "object",
    val_ratio: float = 0.2,
    seed: int = 0,
    images: str = "copy",
    strict: bool = False,
    progress: Progress | None = None,
    overwrite: bool = False,
    workers: int | None = None,
    classes: str | Sequence[str] | None = None,
) -> Report:
    """Convert a folder of labelme files to ``OUT/annotations/{train,val}.json``, ``OUT/images/``,
    ``OUT/metainfo.py`` and ``OUT/report.json``.

    Args:
        src: folder searched recursively for ``*.json``.
        out: output folder; built beside itself and renamed into place when complete.
        keypoints: keypoint names in order (``"a,b,c"`` or a list); a point label outside them is an error.
        metainfo: an MMPose metainfo file giving names, skeleton and swaps (instead of ``keypoints``); with
            ``classes``, a list: one multi-class file, or one-class files (``dataset_name`` = the class).
        category: the COCO category name of every instance.
        val_ratio: share of the files (in [0, 1)) that go to val.
        seed: seed of the train/val split; the same seed gives the same split and ids.
        images: ``copy``, ``link`` (hard link, else symlink) or ``none`` (file names relative to ``src``).
        strict: raise on the first bad file instead of skipping it.
        progress: called as ``progress(done, total)`` now and then.
        overwrite: replace an existing non-empty ``out`` (atomically, once the new one is complete).
        workers: worker processes; None picks (:func:`default_workers`), 0 reads in this process.
        classes: several object classes (``"car,bicycle"``): each rectangle's label names its instance's class
            (:mod:`mmpx.convert.labelme_classes`); the COCO files get one category per class.

    Returns:
        The :class:`Report`, also written to ``OUT/report.json``.

    Raises:
        MmpxError: bad options, no JSON files, no keypoints at all, ``out`` exists; with ``strict``, the first
            bad file (a :class:`~mmpx.convert.summary.FileProblem` naming it).

    Examples:
        >>> convert_labelme("labelme/", "coco/", keypoints="nose,left_eye,right_eye")  # doctest: +SKIP
    """
    start = time.perf_counter()
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise MmpxError(f"source folder {src} does not exist or is not a folder",
                        "give the folder that holds the labelme .json files")
    if images not in IMAGE_MODES:
        raise MmpxError(f"--images must be one of {', '.join(IMAGE_MODES)}, got {images!r}")
    check_out_not_link(out)
    metainfos = [] if metainfo is None else [metainfo] if isinstance(metainfo, (str, Path)) else list(metainfo)
    if classes is not None:
        return convert_classes(src, out, classes, metainfos, val_ratio=val_ratio, seed=seed, images=images,
                               strict=strict, progress=progress, overwrite=overwrite, workers=workers,
                               keypoints=keypoints, category=category)
    if len(metainfos) > 1:
        raise MmpxError(f"{len(metainfos)} --metainfo files without --classes",
                        "several --metainfo files (one per class) go with --classes; for one class give one file")
    metainfo = metainfos[0] if metainfos else None
    spec = keypoint_spec(keypoints, metainfo)
    files, notes = scan_json_files(src, out)
    if not files:
        raise MmpxError(f"no .json files under {src}", "give the folder that holds the labelme .json files")
    val = val_indices(len(files), val_ratio, seed)
    names = spec["names"]
    report = Report("labelme", str(src), str(out), images_mode=images, files_read=len(files),
                    keypoints_source=spec["source"])
    for path, note in notes:
        report.warn(path, note)
    total = len(files)
    with staged_output(out, overwrite, inputs=[src, *([metainfo] if metainfo else [])]) as stage:
        writers = {split: CocoSplitWriter(stage, split) for split in ("train", "val")}
        job = ChunkJob(str(src), stage, images, frozenset(names) if names else None,
                       f"known keypoints: {', '.join(names)}; fix the label or add it to --keypoints/--metainfo",
                       output_clashes(str(src), files, images))
        seen, shapes, labels = _read_all(job, files, val, writers, report, strict, progress, workers)
        if message := label_warning(labels):
            report.warn(report.src, message)
        if report.files_converted == 0 and report.skipped:  # every file was bad: say why, write nothing
            raise nothing_converted(report, total, src)
        if not names:
            names = sorted(seen)
        if not names:
            raise MmpxError(f"no point shapes found in the {total} labelme file(s) under {src}, and no "
                            "keypoint names given",
                            "label keypoints as labelme point shapes, or pass --keypoints")
        _finish(stage, out, report, writers, spec, names, category, shapes, start, files)
    return report


def convert_classes(src: Path, out: Path, classes: str | Sequence[str], metainfo: Sequence[str | Path],
                    val_ratio: float, seed: int, images: str, strict: bool, progress: Progress | None,
                    overwrite: bool, workers: int | None, keypoints=None, category: str = "object") -> Report:
    """:func:`convert_labelme` with ``classes``: one COCO category and one block of the metainfo per class."""
    start = time.perf_counter()
    if keypoints:
        raise MmpxError("--keypoints with --classes: each class has its own keypoints",
                        "give --metainfo once per class (its dataset_name names the class), or let the point "
                        "labels name them")
    if category not in (None, "object"):
        raise MmpxError("--category with --classes: the categories are the classes", "drop --category")
    spec = class_spec(classes, metainfo)
    files, notes = scan_json_files(src, out)
    if not files:
        raise MmpxError(f"no .json files under {src}", "give the folder that holds the labelme .json files")
    val = val_indices(len(files), val_ratio, seed)
    sources = sorted({c["source"] for c in spec})
    report = Report("labelme", str(src), str(out), images_mode=images, files_read=len(files),
                    keypoints_source="; ".join(sources))
    for path, note in notes:
        report.warn(path, note)
    known = known_points(spec)
    with staged_output(out, overwrite, inputs=[src, *metainfo]) as stage:
        writers = {split: CocoSplitWriter(stage, split) for split in ("train", "val")}
        hint = "known keypoints of the classes: " + "; ".join(f"{c['name']}: {', '.join(c['keypoints'])}"
                                                              for c in spec)
        job = ChunkJob(str(src), stage, images, known, hint, output_clashes(str(src), files, images),
                       class_job(spec))
        seen, shapes, _ = _read_all(job, files, val, writers, report, strict, progress, workers)
        if report.files_converted == 0 and report.skipped:
            raise nothing_converted(report, len(files), src)
        for c in spec:
            if not c["keypoints"]:
                prefix = union_name(c["name"], "")
                c["keypoints"] = sorted(n[len(prefix):] for n in seen if n.startswith(prefix))
            if not c["keypoints"]:
                raise MmpxError(f"--classes: no keypoints of the class {c['name']!r} found under {src}",
                                f"label its instances (a rectangle labelled {c['name']} and its points), give "
                                "--metainfo for it, or leave it out of --classes")
        _finish_classes(stage, out, report, writers, spec, shapes, start)
    return report


def _finish_classes(stage: Path, out: Path, report: Report, writers: dict, spec: list[dict], shapes: Counter,
                    start: float) -> None:
    """:func:`_finish` for several classes: a multi-category COCO file, a multi-class metainfo, per-class counts."""
    info = build_classes_metainfo(out.name or "classes", spec)
    categories = [coco_category(c["id"], c["name"], c["keypoints"], c["skeleton"]) for c in spec]
    by_id = {c["id"]: [union_name(c["name"], k) for k in c["keypoints"]] for c in spec}
    coco_info = dict(description=f"converted from labelme by mmpose-ext ({report.src})", version="1.0")
    labelled, visibility = Counter(), Counter()
    for split, writer in writers.items():
        writer.finish(stage / "annotations" / f"{split}.json", categories, [], coco_info, labelled, visibility,
                      category_names=by_id)
        report.images[split] = writer.num_images
    write_metainfo(stage / "metainfo.py", info)
    report.keypoint_names = [n for names in by_id.values() for n in names]
    report.add_counts(labelled, visibility, shapes)
    counts = sum((w.per_category for w in writers.values()), Counter())
    report.classes = [dict(id=c["id"], name=c["name"], keypoints=list(c["keypoints"]),
                           instances=counts[c["id"], "all"], instances_without_keypoints=counts[c["id"], "empty"],
                           keypoints_labelled={k: labelled.get(union_name(c["name"], k), 0) for k in c["keypoints"]})
                      for c in spec]
    report.outputs = ["annotations/train.json", "annotations/val.json", "metainfo.py", "report.json"]
    if report.images_mode != "none":
        report.outputs.insert(2, "images/")
    report.seconds = round(time.perf_counter() - start, 3)
    report.write(stage)


def _read_all(job: ChunkJob, files: list[str], val: set[int], writers: dict, report: Report, strict: bool,
              progress: Progress | None, workers: int | None) -> tuple[set[str], Counter, dict]:
    """Read every file (in this process or in workers), spool its records into ``writers`` and count into
    ``report``; the keypoint names seen, the other shapes, and the rectangle labels' stats."""
    shapes: Counter = Counter()
    seen: set[str] = set()
    labels: dict = {}
    total, done, ann_id = len(files), 0, 0
    with _chunk_results(job, files, default_workers(total) if workers is None else workers) as chunks:
        if progress is not None:  # only now: workers are forked before any progress display starts
            progress(0, total)
        for results, chunk_names, chunk_labels in chunks:
            seen |= chunk_names
            merge_stats(labels, chunk_labels)
            for result in results:
                index = result[0]
                if result[1] is not None:
                    problem = FileProblem(*result[1])
                    if strict:
                        raise problem
                    report.skip(problem)
                    continue
                _, _, file_name, width, height, texts, empty, warnings, other_shapes = result
                image_id = index + 1  # from the sorted file list: stable whatever else is skipped
                writer = writers["val" if index in val else "train"]
                writer.add_image(image_id, file_name, width, height)
                for text in texts:
                    ann_id += 1
                    writer.add_annotation(ann_id, image_id, text)
                for message in warnings:
                    report.warn(files[index], message)
                if other_shapes:
                    shapes.update(other_shapes)
                report.instances += len(texts)
                report.instances_without_keypoints += empty
                report.images_without_instances += not texts
                report.files_converted += 1
            done += len(results)
            if progress is not None:
                progress(done, total)
    return seen, shapes, labels


def _finish(stage: Path, out: Path, report: Report, writers: dict, spec: dict, names: list[str],
            category: str, shapes: Counter, start: float, files: Sequence[str]) -> None:
    """Metainfo, COCO files and the report, all inside the staging folder."""
    info = build_metainfo(spec["dataset_name"] or out.name or category, names, spec["skeleton"],
                          spec["swaps"], spec["sigmas"], spec["joint_weights"])
    categories = [coco_category(1, category, names, spec["skeleton"])]
    coco_info = dict(description=f"converted from labelme by mmpose-ext ({report.src})", version="1.0")
    labelled, visibility = Counter(), Counter()
    for split, writer in writers.items():
        writer.finish(stage / "annotations" / f"{split}.json", categories, names, coco_info,
                      labelled, visibility)
        report.images[split] = writer.num_images
    write_metainfo(stage / "metainfo.py", info)
    report.keypoint_names = list(names)
    report.add_counts(labelled, visibility, shapes)
    if not spec["names"]:  # inferred from the labels: a typo would be a keypoint of its own
        from mmpx.convert.label_check import files_using, suspicious_labels

        for label, why in suspicious_labels(report.keypoints_labelled):
            used = files_using(label, files)
            report.warn(", ".join(used) or report.src, f"{why}; --keypoints or --metainfo refuse unknown labels")
    report.outputs = ["annotations/train.json", "annotations/val.json", "metainfo.py", "report.json"]
    if report.images_mode != "none":
        report.outputs.insert(2, "images/")
    report.seconds = round(time.perf_counter() - start, 3)
    report.write(stage)
