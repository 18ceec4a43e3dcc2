"""``mmpx convert labelme`` as a function (a new dataset, or files added to one), and the summary every
conversion prints: its rows, notes and the items it lists (:mod:`mmpx.convert` converts)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import MmpxError

LISTED = 10  # items of each list shown; all are in OUT/report.json


@dataclass(frozen=True)
class LabelmeRequest:
    """What ``mmpx convert labelme`` was asked: as :func:`mmpx.convert.labelme.convert_labelme`, or with ``append``
    as :func:`mmpx.convert.labelme_append.append_labelme` (``category`` and ``images`` then default to the
    dataset's)."""

    src: Path
    out: Path
    keypoints: str | None = None
    metainfo: Path | list[Path] | None = None  # several with ``classes``: one per class
    category: str | None = None
    val_ratio: float = 0.2
    seed: int = 0
    images: str | None = None
    strict: bool = False
    overwrite: bool = False
    append: bool = False
    workers: int | None = None
    classes: str | None = None  # several object classes: mmpx.convert.labelme_classes


def labelme(request: LabelmeRequest, progress: Callable[[int, int], None] | None = None):
    """Convert (or append); the converter's report. ``progress(done, total)`` is called as files are read."""
    if request.append:
        return _append(request, progress)
    from mmpx.convert.labelme import convert_labelme

    return convert_labelme(request.src, request.out, keypoints=request.keypoints, metainfo=request.metainfo,
                           category=request.category or "object", val_ratio=request.val_ratio, seed=request.seed,
                           images=request.images or "copy", strict=request.strict, progress=progress,
                           overwrite=request.overwrite, workers=request.workers, classes=request.classes)


def _append(request: LabelmeRequest, progress):
    from mmpx.convert.labelme_append import append_labelme

    if request.overwrite:
        raise MmpxError("--append and --overwrite together: --append keeps OUT and adds to it, --overwrite "
                        "replaces it", "drop one of them")
    metainfo = request.metainfo
    if isinstance(metainfo, list):
        if len(metainfo) > 1:
            raise MmpxError("--append with several --metainfo files", "give one --metainfo, or none")
        metainfo = metainfo[0] if metainfo else None
    if request.workers:
        raise MmpxError("--workers with --append: an append reads the new files in this process, one at a "
                        "time, to spot duplicates among them", "drop --workers")
    return append_labelme(request.src, request.out, keypoints=request.keypoints, metainfo=metainfo,
                          category=request.category, val_ratio=request.val_ratio, seed=request.seed,
                          images=request.images, strict=request.strict, progress=progress,
                          classes=request.classes)


def _split(counts: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def _count_rows(report) -> list[tuple[str, str]]:
    """The counts: of this run, or of what an append added and what the dataset now holds."""
    if not hasattr(report, "duplicates"):
        return [
            ("files read / converted / skipped", f"{report.files_read} / {report.files_converted} / "
             f"{len(report.skipped)}"),
            ("images per split", _split(report.images)),
            ("instances (without keypoints)", f"{report.instances} ({report.instances_without_keypoints})"),
        ]
    dataset = report.dataset
    return [
        ("files read / added / duplicates / skipped", f"{report.files_read} / {report.files_converted} / "
         f"{len(report.duplicates)} / {len(report.skipped)}"),
        ("images added per split", _split(report.images)),
        ("instances added (without keypoints)", f"{report.instances} ({report.instances_without_keypoints})"),
        ("dataset now", _split(dataset.get("images", {})) + f" images; {dataset.get('instances', 0)} instances"),
    ]


def summary_rows(report) -> list[tuple[str, str]]:
    """The summary table of a conversion's report: (what, value) rows."""
    rows = [("source", report.src), ("output", report.out), *_count_rows(report)]
    rows += [
        ("keypoints", f"{len(report.keypoint_names)}: {', '.join(report.keypoint_names)}"),
        ("keypoint names from", report.keypoints_source),
        ("labelled keypoints (visible / occluded)",
         f"{report.visibility.get('2', 0)} / {report.visibility.get('1', 0)}"),
    ]
    for c in getattr(report, "classes", None) or []:  # --classes: one row per class
        rows.append((f"class {c['name']} (id {c['id']})", f"{c['instances']} instances, "
                     f"{len(c['keypoints'])} keypoints: {', '.join(c['keypoints'])}"))
    if report.skipped_shapes:
        rows.append(("shapes skipped", _split(report.skipped_shapes)))
    return rows + [("warnings", str(len(report.warnings))), ("time", f"{report.seconds:.2f} s")]


def summary_notes(report) -> list[str]:
    """What the table does not say: an append that added nothing, keypoint names in an order guessed."""
    notes = []
    if hasattr(report, "duplicates") and report.files_converted == 0:
        notes.append("note: nothing was added (every new file was a duplicate or skipped)")
    if report.keypoints_source.startswith("inferred"):
        notes.append("note: keypoint names were collected from the point labels, in sorted order; pass "
                     "--keypoints or --metainfo to fix their order")
    return notes


def summary_lists(report) -> list[tuple[str, list[tuple[str, str]]]]:
    """The files a conversion did not take as they were: (title, [(file, why)]) for duplicates, skipped files and
    warnings, each non-empty list in full."""
    duplicates = [(d["file"], f"duplicate of {d['duplicate_of']} (image id {d['image_id']}), not added")
                  for d in getattr(report, "duplicates", [])]
    lists = [("duplicates", duplicates), ("skipped", [(i["file"], i["reason"]) for i in report.skipped]),
             ("warnings", [(i["file"], i["message"]) for i in report.warnings])]
    return [(title, items) for title, items in lists if items]


__all__ = ["LISTED", "LabelmeRequest", "labelme", "summary_lists", "summary_notes", "summary_rows"]
