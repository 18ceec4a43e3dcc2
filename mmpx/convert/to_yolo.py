"""``mmpx convert to-yolo``: COCO keypoint file(s) back to an Ultralytics pose dataset.

Writes ``OUT/images/<split>/``, ``OUT/labels/<split>/*.txt`` (``cls cx cy w h x1 y1 v1 ...``, normalised,
6 decimals) and ``OUT/data.yaml`` (``kpt_shape: [K, 3]``, ``flip_idx`` from the metainfo's swaps or inferred
from the keypoint names, ``names``, ``kpt_names``).

Ultralytics has one ``kpt_shape`` per dataset and model. Categories with different keypoints (a multi-class
dataset: cars with 8, bicycles with 6) are written as the union, class after class, named ``<class>/<keypoint>``
(as a multi-class metainfo names them): ``kpt_shape: [14, 3]``, each label line carries its class's own points
in its block and ``0 0 0`` for every other class's, ``flip_idx`` swaps within a class.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from mmpx.convert.output import ImagePlacer, staged_output
from mmpx.convert.paths import (
    abs_root,
    check_out_not_link,
    clashes,
    image_problem,
    inside,
    plain_name,
    read_regular,
)
from mmpx.convert.summary import FileProblem, Report, nothing_converted
from mmpx.convert.yolo_yaml import pose_yaml_text
from mmpx.errors import MmpxError
from mmpx.metainfo import infer_swaps, keypoint_names, load_metainfo
from mmpx.metainfo.classes import SEP, union_name

SPLIT_NAMES = ("train", "val", "test")


def _coco_files(ann: Path, split: str | None) -> dict[str, Path]:
    """Split name -> COCO file: a file (split from ``split`` or its stem), or every ``*.json`` of a folder."""
    if ann.is_dir():
        files = {p.stem: p for p in sorted(ann.glob("*.json"))}
        if not files:
            raise MmpxError(f"no .json files in {ann}", "give a COCO keypoint file or a folder of them")
        folded = [stem.casefold() for stem in files]
        for stem, p in files.items():  # the split name becomes a folder of OUT
            if stem in (".", "..") or folded.count(stem.casefold()) > 1:
                raise MmpxError(f"{p}: {stem!r} cannot name a split folder (it is '.', '..' or another file's "
                                "name in another case)", "rename the file, e.g. train.json, val.json")
        return files
    if not ann.exists():  # anything else there is refused when read
        raise MmpxError(f"COCO file {ann} does not exist", "give a COCO keypoint file or a folder of them")
    return {split or (ann.stem if ann.stem in SPLIT_NAMES else "train"): ann}


def _load_coco(path: Path) -> dict:
    try:
        coco = json.loads(read_regular(path).decode("utf-8"))  # a FIFO would block, /dev/zero never end
    except (OSError, ValueError, RecursionError) as exc:
        raise MmpxError(f"cannot read COCO file {path}: {exc}",
                        "check it is a COCO keypoint JSON file") from None
    for key in ("images", "annotations", "categories"):
        if not isinstance(coco.get(key) if isinstance(coco, dict) else None, list):
            raise MmpxError(f"{path}: no {key!r} list; not a COCO file", "give a COCO keypoint JSON file")
    from mmpx.check.coco import first_bad_id

    if (bad := first_bad_id(coco)) is not None:  # an id of inf or 3.5 matches nothing: labels would go missing
        raise MmpxError(f"{path}: {bad}", f"fix the ids; `mmpx check data {path}` lists every problem")
    return coco


@dataclass(frozen=True)
class Layout:
    """How the categories map onto one YOLO keypoint set: class index per category id, class names, the keypoint
    names of every label line and where each category's own keypoints start in it. One set shared by all
    categories: that set, every start 0. Categories with different keypoints (several classes): the union, class
    after class, named ``<class>/<keypoint>``, the other classes' points ``0 0 0``."""

    index: dict[int, int]
    class_names: list[str]
    names: list[str]
    start: dict[int, int]
    own: dict[int, list[str]]

    @property
    def several(self) -> bool:
        return any(self.start.values()) or len(set(map(tuple, self.own.values()))) > 1


def _classes(coco: dict, path: Path) -> Layout:
    """The categories (in id order) and their keypoints as one YOLO keypoint set (:class:`Layout`)."""
    cats = sorted(coco["categories"], key=lambda c: c["id"])
    kpts = [[str(k) for k in c.get("keypoints") or []] for c in cats]
    if not cats or not all(kpts):
        raise MmpxError(f"{path}: every category must list its keypoints (a non-empty 'keypoints' list)",
                        "give the COCO keypoint file that mmpx convert (or another tool) wrote")
    index = {c["id"]: i for i, c in enumerate(cats)}
    class_names = [str(c["name"]) for c in cats]
    own = {c["id"]: k for c, k in zip(cats, kpts, strict=True)}
    if all(k == kpts[0] for k in kpts):
        return Layout(index, class_names, kpts[0], {c["id"]: 0 for c in cats}, own)
    if len(set(class_names)) != len(class_names) or any(SEP in n for n in class_names):
        raise MmpxError(f"{path}: categories with different keypoints need distinct names without {SEP!r} "
                        f"(got {', '.join(class_names)})", "rename the categories")
    start, names = {}, []
    for c, k in zip(cats, kpts, strict=True):
        start[c["id"]] = len(names)
        names += [union_name(str(c["name"]), n) for n in k]
    return Layout(index, class_names, names, start, own)


def _label_line(ann: dict, cls: int, width: int, height: int, k: int, start: int = 0, own: int | None = None) -> str:
    """One label line: the box, then ``k`` keypoints, the annotation's ``own`` ones (default ``k``) from
    ``start`` on, every other ``0 0 0``."""
    own = k if own is None else own
    x, y, w, h = ann["bbox"]
    values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
    kps = ann.get("keypoints") or [0] * (3 * own)
    if len(kps) != 3 * own:
        raise MmpxError(f"annotation {ann.get('id')} has {len(kps) // 3} keypoints, not {own}",
                        "every annotation needs one (x, y, v) per keypoint of its category")
    parts = [str(cls)] + [f"{v:.6f}" for v in values]
    for i in range(k):
        j = i - start
        kx, ky, v = kps[3 * j: 3 * j + 3] if 0 <= j < own else (0, 0, 0)
        if v:
            parts += [f"{kx / width:.6f}", f"{ky / height:.6f}", str(int(v))]
        else:
            parts += ["0.000000", "0.000000", "0"]
    return " ".join(parts)


def _plan(coco: dict, path: Path, split: str, images: Path) -> tuple[list[tuple[dict, Path, str]], list]:
    """``(record, image file, name under the split)`` of each image record to convert, and the problems of the
    others: a file_name that is no name, that leads outside ``images``, or whose label file another record's is.

    Names are checked as written (``..`` resolved), so nothing is read from outside ``images`` and every output
    name (``images/<split>/<rel>``, ``labels/<split>/<rel stem>.txt``) stays inside OUT.
    """
    root, kept, problems = abs_root(images), [], []
    for i, image in enumerate(coco["images"]):
        file_name = image.get("file_name") if isinstance(image, dict) else None
        if not isinstance(file_name, str) or not file_name.strip() or "\0" in file_name:
            problems.append(FileProblem(str(path), f"images[{i}]: file_name {file_name!r} names no image file",
                                        "give each image record the image's path relative to --images"))
            continue
        src = os.path.normpath(os.path.join(images, file_name.replace("\\", "/")))
        if not inside(root, src) or os.path.abspath(src) == root:
            problems.append(FileProblem(str(path), f"images[{i}]: file_name {file_name!r} lies outside the image "
                                        f"folder {images}; only images inside it are read",
                                        "fix file_name (relative to --images), or give the folder that holds the "
                                        "images as --images"))
            continue
        rel = Path(os.path.relpath(os.path.abspath(src), root)).as_posix()
        rel = rel[len(split) + 1:] if rel.startswith(split + "/") else rel
        kept.append((image, i, Path(src), rel))
    refused = clashes((i, image["file_name"], f"labels/{split}/{os.path.splitext(rel)[0]}.txt")
                      for image, i, _, rel in kept)
    for i in sorted(refused):
        problems.append(FileProblem(str(path), f"images[{i}]: {refused[i]}", "rename one of the images"))
    return [(image, src, rel) for image, i, src, rel in kept if i not in refused], problems


def convert_to_yolo(ann: str | Path, out: str | Path, images: str | Path, metainfo: str | Path | None = None,
                    split: str | None = None, link: bool = False, overwrite: bool = False,
                    strict: bool = False) -> Report:
    """Convert COCO keypoint annotations to an Ultralytics pose dataset in ``out``.

    Args:
        ann: a COCO file (split ``train``/``val``/``test`` from its stem, else ``train``) or a folder of them,
            e.g. the ``annotations/`` folder ``mmpx convert`` writes (one split per file).
        out: output folder, built beside itself and renamed into place when complete.
        images: folder the COCO ``file_name`` values are relative to. A ``file_name`` that starts with the
            split name (``train/a.jpg``) loses that prefix, so that YOLO -> COCO -> YOLO keeps the layout.
        metainfo: MMPose metainfo whose swaps give ``flip_idx`` (default: inferred from the keypoint names).
        split: split name for a single file.
        link: hard-link (else symlink) images instead of copying them.
        overwrite: replace an existing non-empty ``out``.
        strict: raise on the first bad image record instead of skipping it (a file_name outside ``images``, two
            records sharing a label file, an image that is no regular file, empty or no image).

    Raises:
        MmpxError: a missing or invalid file, an image that is not in ``images``, mismatching keypoints, every
            image record bad; with ``strict``, the first bad record.
    """
    start = time.perf_counter()
    ann, out, images = Path(ann), Path(out), Path(images)
    check_out_not_link(out)
    if split is not None:
        plain_name(split, "--split")
    coco_files = _coco_files(ann, split)
    report = Report("to-yolo", str(ann), str(out), images_mode="link" if link else "copy")
    layout: Layout | None = None
    with staged_output(out, overwrite, inputs=[ann, *coco_files.values(), images]) as stage:
        placer = ImagePlacer(stage / "images", report.images_mode)
        for split_name, path in coco_files.items():
            coco = _load_coco(path)
            found = _classes(coco, path)
            if layout is not None and found != layout:
                raise MmpxError(f"{path}: categories differ from the other split files",
                                "convert them separately")
            layout = found
            names = layout.names
            by_image = defaultdict(list)
            for a in coco["annotations"]:
                if not a.get("iscrowd"):
                    by_image[a["image_id"]].append(a)
            planned, problems = _plan(coco, path, split_name, images)
            if strict and problems:
                raise problems[0]
            converted = 0
            for image, src, rel in planned:
                try:
                    problem = image_problem(src)
                except (FileNotFoundError, NotADirectoryError):
                    raise MmpxError(f"{path}: image {image['file_name']!r} is not in {images}",
                                    "give with --images the folder the COCO file names are relative to") from None
                if problem is not None:
                    problems.append(FileProblem(str(path), f"image {image['file_name']!r}: {problem}",
                                                "replace the image with a readable one, or drop its record"))
                    if strict:
                        raise problems[-1]
                    continue
                placer.place(str(src), f"{split_name}/{rel}")
                width, height = image["width"], image["height"]
                lines = [_label_line(a, layout.index[a["category_id"]], width, height, len(names),
                                     layout.start[a["category_id"]], len(layout.own[a["category_id"]]))
                         for a in by_image.get(image["id"], [])]
                label = stage / "labels" / split_name / (os.path.splitext(rel)[0] + ".txt")
                label.parent.mkdir(parents=True, exist_ok=True)
                label.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                converted += 1
                report.instances += len(lines)
                report.images_without_instances += not lines
            for problem in problems:
                report.skip(problem)
            report.files_read += len(coco["images"])
            report.files_converted += converted
            report.images[split_name] = converted
        if report.files_converted == 0 and report.skipped:  # every record was bad: say why, write nothing
            raise nothing_converted(report, report.files_read, ann)
        swaps = _swaps(metainfo, layout)
        flip_idx = [names.index(swaps[n]) if n in swaps else i for i, n in enumerate(names)]
        text = pose_yaml_text(out.resolve(), list(coco_files), layout.class_names, names, flip_idx,
                              layout.several)
        (stage / "data.yaml").write_text(text, encoding="utf-8")
        report.keypoint_names = names
        report.keypoints_source = f"--metainfo {metainfo}" if metainfo else "COCO categories (swaps inferred)"
        report.outputs = ["data.yaml", "images/", "labels/", "report.json"]
        report.seconds = round(time.perf_counter() - start, 3)
        report.write(stage)
    return report


def _swaps(metainfo: str | Path | None, layout: Layout) -> dict[str, str]:
    """Left/right partners by the label lines' names: the metainfo's, else inferred (within each class)."""
    names = layout.names
    if metainfo is None:
        if not layout.several:
            return infer_swaps(names)
        class_of = {cid: layout.class_names[i] for cid, i in layout.index.items()}
        return {union_name(class_of[cid], a): union_name(class_of[cid], b)
                for cid, own in layout.own.items() for a, b in infer_swaps(own).items()}
    info = load_metainfo(metainfo)
    if keypoint_names(info) != names:
        raise MmpxError(f"metainfo {metainfo} names keypoints {keypoint_names(info)}, the COCO file {names}",
                        "give the metainfo written with this dataset")
    return {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values() if kp.get("swap")}
