"""``mmpx convert labelme SRC OUT --append``: add newly labelled files to a dataset ``mmpx convert labelme`` (or
``dlc``, ``sleap``, ``labelstudio``, ``nwb``: one keypoint category, the same names) wrote.

Nothing existing changes: images, annotations, ids and the train/val split stay, record for record byte for
byte. The new files get ids after the existing ones, their own seeded split, names no existing image has; an
image whose bytes the dataset already holds is reported as a duplicate and left out. The new dataset is built
beside ``OUT`` (hard links to the existing images) and swapped in whole, as ``--overwrite`` does.
See ``docs/guides/convert.md`` ("Appending newly labelled files").

A dataset of several classes (``convert labelme --classes``) takes new files labelled the same way: each instance's
rectangle label names its class, its points are that class's keypoints; a rectangle naming a class the dataset does
not have is a problem of that file (a new class needs a new conversion). See ``docs/guides/multiclass.md``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Sequence
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
from mmpx.convert.append_images import AppendImages
from mmpx.convert.coco_writer import CocoSplitWriter
from mmpx.convert.labelme import ChunkJob, Progress, convert_chunk, keypoint_spec, output_clashes
from mmpx.convert.labelme_classes import ClassJob, parse_classes
from mmpx.convert.labelme_images import scan_json_files
from mmpx.convert.output import recovered, staged_output, val_indices
from mmpx.convert.paths import check_out_not_link
from mmpx.convert.summary import FileProblem, nothing_converted
from mmpx.errors import MmpxError


def append_labelme(
    src: str | Path,
    out: str | Path,
    keypoints: str | Sequence[str] | None = None,
    metainfo: str | Path | None = None,
    category: str | None = None,
    val_ratio: float = 0.2,
    seed: int = 0,
    images: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    classes: str | Sequence[str] | None = None,
) -> AppendReport:
    """Add the labelme files under ``src`` to the dataset in ``out`` (written by :func:`convert_labelme`, or by
    :func:`~mmpx.convert.sleapio.convert_sleapio`).

    Args:
        src: folder searched recursively for ``*.json``: the newly labelled files.
        out: the dataset; replaced atomically by the appended one.
        keypoints, metainfo: optional; must name the dataset's keypoints in its order (they come from it).
        category: optional; must be the dataset's category name.
        val_ratio: share of the new files (in [0, 1)) that go to val; old ones never move.
        seed: seed of the new files' split.
        images: ``copy``, ``link`` or ``none``; default: the dataset's mode. ``none`` only with ``none``.
        strict: raise on the first bad new file (``out`` is then left as it was).
        progress: called as ``progress(done, total)`` now and then.
        classes: optional; must be the dataset's classes, in order (they come from it).

    Returns:
        The :class:`AppendReport` of this append, also added to ``appends`` in ``OUT/report.json``.

    Raises:
        MmpxError: ``out`` is no dataset an append may add to, options disagree with it, no JSON files, every new
            file bad; with ``strict``, the first bad file.
    """
    # the lock first: two appends must not both read the same dataset and take the same new ids
    with hold(out, "dataset"), recovered(out):
        return _append(Path(src), Path(out), keypoints, metainfo, category, val_ratio, seed, images, strict,
                       progress, classes)


def _append(src: Path, out: Path, keypoints, metainfo, category, val_ratio, seed, images, strict,
            progress, classes=None) -> AppendReport:
    start = time.perf_counter()
    if not src.is_dir():
        raise MmpxError(f"source folder {src} does not exist or is not a folder",
                        "give the folder that holds the newly labelled labelme .json files")
    check_out_not_link(out)
    base = read_existing(out, "labelme")
    names = base.names
    _check_options(base, keypoints, metainfo, category)
    _check_classes(base, classes)
    mode = images_mode(base, images)
    root = none_root(base) if mode == "none" else None
    files, notes = scan_json_files(src, out)
    if not files:
        raise MmpxError(f"no .json files under {src}", "give the folder that holds the labelme .json files")
    val = val_indices(len(files), val_ratio, seed)
    first_image, first_ann = base.max_id("images") + 1, base.max_id("annotations") + 1
    report = AppendReport("labelme", str(src), str(out), images_mode=mode, files_read=len(files),
                          keypoints_source=f"the dataset ({out / 'annotations'})", keypoint_names=list(names),
                          first_ids=dict(image=first_image, annotation=first_ann))
    for path, note in notes:
        report.warn(path, note)
    shapes: Counter = Counter()
    # --metainfo is only compared (above), so OUT/metainfo.py itself may be given
    with staged_output(out, overwrite=True, inputs=[src]) as stage:
        link_tree(out, stage)
        index = image_index(base, root)
        handler = AppendImages(stage, mode, index, root, src=src)
        writers = {split: CocoSplitWriter(stage, split) for split in SPLITS}
        job = _job(base, src, stage, mode, output_clashes(str(src), files, mode))
        ann_id = first_ann - 1
        if progress is not None:
            progress(0, len(files))
        for i, path in enumerate(files):
            handler.reset()
            # one file at a time: a duplicate of the file just before must be seen
            ((result,), _, _) = convert_chunk(job, handler, [(i, path)])
            if result[1] is not None:
                handler.discard()
                problem = _new_class(base, FileProblem(*result[1]))
                if strict:
                    raise problem
                report.skip(problem)
            elif handler.duplicate is not None:
                file_name, image_id = handler.duplicate
                shown = file_name if mode == "none" else f"images/{file_name}"
                report.duplicates.append(dict(file=path, duplicate_of=shown, image_id=image_id))
            else:
                _, _, file_name, width, height, texts, empty, warnings, other_shapes = result
                image_id = first_image + i  # from the sorted file list: stable whatever else is left out
                handler.commit(image_id)
                writer = writers["val" if i in val else "train"]
                writer.add_image(image_id, file_name, width, height)
                for text in texts:
                    ann_id += 1
                    writer.add_annotation(ann_id, image_id, text)
                for message in [*warnings, *([handler.warning] if handler.warning else [])]:
                    report.warn(path, message)
                shapes.update(other_shapes or {})
                report.instances += len(texts)
                report.instances_without_keypoints += empty
                report.images_without_instances += not texts
                report.files_converted += 1
            if progress is not None and (i % 64 == 63 or i == len(files) - 1):
                progress(i + 1, len(files))
        if report.files_converted == 0 and report.skipped and not report.duplicates:
            raise nothing_converted(report, len(files), src)
        if index.unreadable:
            report.warn(str(out), f"{len(index.unreadable)} existing image(s) could not be read (e.g. "
                        f"{index.unreadable[0]}), so new files were not checked for duplicates of them")
        finish_append(stage, base, report, writers, shapes, start)
        base.check_unchanged()
    return report


def _job(base: Existing, src: Path, stage: Path, mode: str, refused: dict) -> ChunkJob:
    """What converting a new file needs: the dataset's keypoints, or with several classes each class's own."""
    hint = "; fix the label (a new keypoint needs a new conversion, without --append)"
    if base.classes is None:
        return ChunkJob(str(src), stage, mode, frozenset(base.names),
                        f"known keypoints (from {base.out}): {', '.join(base.names)}" + hint, refused)
    own = frozenset(k for c in base.classes for k in c.keypoints)
    listed = "; ".join(f"{c.name}: {', '.join(c.keypoints)}" for c in base.classes)
    return ChunkJob(str(src), stage, mode, own, f"known keypoints (from {base.out}) {listed}" + hint, refused,
                    ClassJob({c.name: (c.id, frozenset(c.keypoints)) for c in base.classes}))


_NO_CLASS = re.compile(r"^(rectangle '.*' \(shape \d+\)) names no class of --classes$")


def _new_class(base: Existing, problem: FileProblem) -> FileProblem:
    """A rectangle naming a class the dataset does not have, said in the words of an append."""
    found = _NO_CLASS.match(problem.problem) if base.classes is not None else None
    if found is None:
        return problem
    names = ", ".join(c.name for c in base.classes)
    return FileProblem(problem.file, f"{found.group(1)} names no class of the dataset in {base.out} ({names})",
                       f"label the rectangle with one of {names}; a new class needs a new conversion of all the "
                       f"files: mmpx convert labelme SRC OUT --classes {','.join(c.name for c in base.classes)},"
                       "NEW --overwrite (without --append)")


def _check_classes(base: Existing, classes) -> None:
    """``--classes`` may be given with ``--append``, but must be the dataset's classes in order."""
    if classes is None:
        return
    given = parse_classes(classes)
    if base.classes is None:
        raise MmpxError(f"--append --classes {','.join(given)}: the dataset in {base.out} has one class "
                        f"({base.category.get('name')!r})",
                        "drop --classes; to make it a dataset of several classes, convert all the files again "
                        "with --classes (without --append)")
    have = [c.name for c in base.classes]
    if given != have:
        raise MmpxError(f"--append --classes {','.join(given)}, but the dataset in {base.out} has the classes "
                        f"{','.join(have)}",
                        "drop --classes (with --append they come from the dataset); a new class needs a new "
                        "conversion of all the files, without --append")


def _check_options(base: Existing, keypoints, metainfo, category: str | None) -> None:
    """``--keypoints``, ``--metainfo`` and ``--category`` may be given with ``--append``, but must agree."""
    if keypoints and base.classes is not None:
        raise MmpxError(f"--append --keypoints: the dataset in {base.out} has several classes, each with its "
                        "own keypoints", "drop --keypoints (with --append they come from the dataset)")
    spec = keypoint_spec(keypoints, metainfo)
    if spec["names"] and spec["names"] != base.names:
        raise MmpxError(f"--append: {spec['source']} names the keypoints {', '.join(spec['names'])}, but the "
                        f"dataset in {base.out} has {', '.join(base.names)} (in this order)",
                        "drop --keypoints/--metainfo: with --append the names come from the dataset")
    check_category(base, category)
