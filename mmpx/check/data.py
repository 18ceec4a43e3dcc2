"""``mmpx check data``: find what would break (or silently spoil) training in a dataset, before it runs.

Reads COCO keypoint files and MPII-style lists (detected from the content), optionally a metainfo file and
the image folder. Pure Python plus NumPy (PIL when images are checked): no torch, mmengine or mmpose.

Examples:
    >>> report = check_data_report("data/ann.json", images="data/images")  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mmpx.check.coco import Findings, check_coco
from mmpx.check.coco import image_refs as coco_image_refs
from mmpx.check.images import PIXELS_ENV, find_strip, resolve, verify_images
from mmpx.check.mpii import check_mpii, describe_json, is_mpii
from mmpx.check.mpii import image_refs as mpii_image_refs
from mmpx.errors import MmpxError
from mmpx.errors.problems import Problem, count, error, warning
from mmpx.metainfo import keypoint_names, load_metainfo, validate_metainfo
from mmpx.metainfo.classes import keypoint_classes


@dataclass
class DataReport:
    """Everything ``mmpx check data`` found.

    Args:
        file: the annotation file.
        format: ``"coco"``, ``"mpii"`` or ``"unknown"``.
        problems: errors and warnings.
        images, annotations, keypoints: counts (keypoints: labelled ones, v > 0).
        notes: choices the check made, e.g. which image path mapping it used.
        classes: with a multi-class metainfo, per class ``{"id", "name", "keypoints", "annotations",
            "labelled"}``.
    """

    file: str
    format: str = "unknown"
    problems: list[Problem] = field(default_factory=list)
    images: int = 0
    annotations: int = 0
    keypoints: int = 0
    notes: list[str] = field(default_factory=list)
    classes: list[dict] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return count(self.problems)[0]

    @property
    def warnings(self) -> int:
        return count(self.problems)[1]

    def summary(self) -> str:
        per_class = "".join(f"; {c['name']}: {c['annotations']} annotations, {c['labelled']} labelled keypoints"
                            for c in self.classes)
        return (f"{self.file}: {self.format}, {self.images} images, {self.annotations} annotations, "
                f"{self.keypoints} labelled keypoints{per_class}: {self.errors} errors, {self.warnings} warnings")

    def as_dict(self) -> dict:
        return {"file": self.file, "format": self.format, "images": self.images,
                "annotations": self.annotations, "keypoints": self.keypoints, "errors": self.errors,
                "warnings": self.warnings, "notes": self.notes,
                "problems": [p.as_dict() for p in self.problems], **({"classes": self.classes} if self.classes else {})}


def _load_meta(metainfo: str | Path, report: DataReport) -> tuple[list[str] | None, list | None]:
    """The metainfo's keypoint names, and its classes when it is a multi-class file (None: one class)."""
    try:
        info = load_metainfo(metainfo)
    except MmpxError as exc:
        report.problems.append(error(str(metainfo), "", exc.message, exc.hint or "", "metainfo-load"))
        return None, None
    problems = validate_metainfo(info, str(metainfo))
    report.problems += problems
    if "classes" in info:  # checked per category against its class; a broken file has been said
        if any(p.severity == "error" for p in problems):
            return None, None
        return None, keypoint_classes(info, str(metainfo))
    try:
        names = keypoint_names(info)
    except (KeyError, TypeError, AttributeError):
        return None, None  # validate_metainfo has said why
    return names or None, None


def _check_images(root: Path, refs: list, report: DataReport,
                  on_image: Callable[[int, int], None] | None) -> dict:
    """Verify each referenced image once; return ``{file_name: (width, height)}`` of the readable ones."""
    if not root.is_dir():
        raise MmpxError(f"image folder {root} does not exist", "give the folder file_name is relative to")
    names = list(dict.fromkeys(name for _, name, _ in refs))
    strip = find_strip(root, names)
    if strip and names:
        prefix = "/".join(PurePosixPath(names[0].replace("\\", "/")).parts[:strip]) + "/"
        report.notes.append(f"images: file_name with its leading {prefix!r} dropped, under {root}")
        report.problems.append(warning(
            report.file, "images[*].file_name", f"file names start with {prefix!r}, which is not under "
            f"{root}; the images were found after dropping it",
            f"MMPose joins data_prefix['img'] with file_name: point data_root/data_prefix at a folder "
            f"that holds {prefix}..., or rewrite file_name",
            "image-path-prefix"))
    else:
        report.notes.append(f"images: file_name resolved under {root}")
    paths = {name: resolve(root, name, strip) for name in names}
    done, lock = [0], threading.Lock()

    def tick() -> None:
        with lock:
            done[0] += 1
            on_image(done[0], len(paths))

    statuses = dict(zip(paths, verify_images(list(paths.values()), tick if on_image else None), strict=True))
    seen: set = set()
    for fld, name, declared in refs:
        st = statuses[name]
        if name in seen:
            continue
        seen.add(name)
        if st.problem == "missing":
            report.problems.append(error(report.file, f"{fld}.file_name", f"image {paths[name]} not found",
                                         "check --images and file_name", "image-missing"))
        elif st.problem:
            hint = ("re-export the image or drop it and its annotations" if st.code == "image-corrupt" else
                    f"shrink the image, or raise {PIXELS_ENV} (0: no limit) if the machine has the memory")
            report.problems.append(error(report.file, f"{fld}.file_name", f"image {paths[name]}: {st.problem}",
                                         hint, st.code))
        elif declared is not None and tuple(declared) != st.size:
            rotated = st.rotated and tuple(declared) == st.size[::-1]
            make = warning if rotated else error
            why = " (EXIF rotation: shown rotated, MMPose's loader rotates it too)" if rotated else ""
            report.problems.append(make(report.file, f"{fld}.width", f"image {paths[name]} is "
                                        f"{st.size[0]}x{st.size[1]} but width/height say "
                                        f"{declared[0]}x{declared[1]}{why}",
                                        "fix width/height (they clip boxes and keypoints)", "image-size"))
    return {name: st.size for name, st in statuses.items() if st.size}


def check_data_report(ann: str | Path, images: str | Path | None = None, metainfo: str | Path | None = None,
                      on_image: Callable[[int, int], None] | None = None, **coco_options) -> DataReport:
    """Check an annotation file (and its images and metainfo) and return a :class:`DataReport`.

    Args:
        ann: COCO keypoint JSON, or an MPII-style JSON list.
        images: folder that ``file_name`` (MPII: ``image``) is relative to; images are opened and decoded.
        metainfo: MMPose metainfo ``.py``; gives K and keypoint names (else each category's ``keypoints``); a
            multi-class one, each category's by its class (``category_id`` = the class's ``id``).
        on_image: called as ``on_image(done, total)`` after each image is verified (from worker threads).
        coco_options: ``layout`` and ``metainfo_fix`` of :func:`mmpx.check.coco.check_coco` (the preflight
            passes the dataset class's layout).

    Raises:
        MmpxError: ``ann`` or ``images`` does not exist.
    """
    path = Path(ann)
    if not path.is_file():
        raise MmpxError(f"annotation file {path} does not exist",
                        "give the path of a COCO keypoint .json file")
    report = DataReport(file=str(ann))
    meta_names, meta_classes = _load_meta(metainfo, report) if metainfo is not None else (None, None)
    try:
        with path.open(encoding="utf-8") as f:
            data = json.load(f)
    except json.JSONDecodeError as exc:
        report.problems.append(error(report.file, f"line {exc.lineno} column {exc.colno}",
                                     f"not valid JSON: {exc.msg}", "is the file complete (not truncated)?",
                                     "json"))
        return report
    except RecursionError:
        report.problems.append(error(report.file, "", "not valid JSON: nested too deeply to read",
                                     "this is no COCO file", "json"))
        return report
    except UnicodeDecodeError as exc:
        report.problems.append(error(report.file, "", f"not UTF-8 text: {exc}", "save it as UTF-8 JSON",
                                     "json"))
        return report
    if is_mpii(data):
        report.format, refs = "mpii", mpii_image_refs(data)
    elif isinstance(data, dict):
        report.format, refs = "coco", coco_image_refs(data)
    else:
        report.problems.append(error(
            report.file, "", f"not a COCO keypoint file: found {describe_json(data)}",
            "mmpx check data reads COCO keypoint files (images, annotations, categories) and MPII-style "
            "lists of image/joints/joints_vis/center/scale records", "format"))
        return report
    sizes = _check_images(Path(images), refs, report, on_image) if images is not None else {}
    if images is None:
        report.notes.append("images: not checked (pass --images DIR)")
    if meta_classes is not None and report.format == "mpii":
        report.problems.append(error(str(metainfo), "classes", "a multi-class metainfo with an MPII-style file",
                                     "several classes need COCO files (one category per class)", "classes"))
        meta_classes = None
    if meta_classes is not None:  # each category has its class's count: a wrong count is a wrong class or label
        coco_options.setdefault("metainfo_fix", "is category_id the class they belong to? (docs/guides/multiclass.md)")
    found: Findings = (check_mpii(data, report.file, meta_names, sizes) if report.format == "mpii"
                       else check_coco(data, report.file, meta_names, meta_classes=meta_classes, **coco_options))
    report.problems += found.problems
    report.notes += found.notes
    report.images, report.annotations, report.keypoints = found.images, found.annotations, found.keypoints
    report.classes = getattr(found, "classes", [])
    return report


def check_data(ann: str | Path, images: str | Path | None = None,
               metainfo: str | Path | None = None, **coco_options) -> list[Problem]:
    """The problems of :func:`check_data_report` (an empty list means the data is ready to train on)."""
    return check_data_report(ann, images, metainfo, **coco_options).problems
