"""``mmpx convert yolo``: an Ultralytics pose dataset (data YAML + ``labels/*.txt``) to COCO + metainfo.

Layout read (Ultralytics' own): ``path`` (dataset root, relative to the YAML's folder), ``train``, ``val``,
``test`` (image folders, list files or lists of them, relative to ``path``), ``kpt_shape: [K, 2|3]``,
``flip_idx``, ``names`` and optionally ``kpt_names``; each image ``.../images/<split>/x.jpg`` has its labels
in ``.../labels/<split>/x.txt``, one ``cls cx cy w h x1 y1 [v1] ...`` line per instance, normalised to 0-1.

Several classes in the union layout ``mmpx convert to-yolo`` writes (``kpt_names`` named ``<class>/<keypoint>``,
class after class) come back as a multi-class dataset: one category per class with its own keypoints and a
multi-class metainfo; a point labelled outside its line's class block is an error.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from pathlib import Path

from mmpx.convert.coco_writer import CocoSplitWriter, annotation_text
from mmpx.convert.output import ImagePlacer, coco_category, staged_output
from mmpx.convert.paths import (
    NotRegular,
    abs_root,
    check_out_not_link,
    clashes,
    inside,
    open_regular,
    read_regular,
)
from mmpx.convert.summary import FileProblem, Report, nothing_converted
from mmpx.convert.yolo_yaml import YoloSpec, read_pose_yaml
from mmpx.errors import MmpxError
from mmpx.metainfo import build_classes_metainfo, build_metainfo, write_metainfo

IMAGE_EXTS = {".bmp", ".dng", ".jpeg", ".jpg", ".mpo", ".png", ".tif", ".tiff", ".webp", ".pfm"}
SPLITS = ("train", "val", "test")
# Normalised YOLO coordinates carry 6 decimals; 4 decimals of a pixel keep the round trip exact to them.
COCO_FORMAT = ".4f"


def image_size(path: str) -> tuple[int, int]:
    """(width, height) from the file header, EXIF rotation applied as Ultralytics does.

    Raises:
        FileProblem: no regular file (a FIFO would block), or no image PIL can read (an empty file included).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with open_regular(path) as f, Image.open(f) as img:
            width, height = img.size
            if img.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated 90 degrees
                width, height = height, width
    except NotRegular as exc:
        raise FileProblem(path, f"is {exc.what}, not a regular file; only regular files are read",
                          "replace it with the image file itself") from None
    except (OSError, UnidentifiedImageError, ValueError) as exc:
        raise FileProblem(path, f"cannot read the image: {exc}", "check the file is a readable image") from None
    return width, height


def label_path(image: str) -> str:
    """Ultralytics' rule: the last ``/images/`` becomes ``/labels/`` and the suffix ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return os.path.splitext(sb.join(image.rsplit(sa, 1)))[0] + ".txt"


def split_images(spec: YoloSpec, split: str) -> tuple[list[tuple[str, str]], list[FileProblem]]:
    """``(image path, name under the split)`` of every image of ``split``, sorted; and the problems of list lines
    that lead outside the dataset folder (``path``) and the list file's folder, which are not read."""
    found: list[tuple[str, str]] = []
    problems: list[FileProblem] = []
    for entry in spec.splits[split]:
        where = Path(entry) if os.path.isabs(entry) else spec.root / entry
        if where.is_dir():
            for folder, _, names in os.walk(where):
                for name in names:
                    if os.path.splitext(name)[1].lower() in IMAGE_EXTS:
                        path = os.path.join(folder, name)
                        found.append((path, Path(os.path.relpath(path, where)).as_posix()))
        elif os.path.exists(where):
            _list_file(spec, split, where, found, problems)
        else:
            raise MmpxError(f"{spec.yaml}: field {split!r} names {where}, which does not exist",
                            "fix the path (relative to the `path` field, or to the YAML's folder)")
    return sorted(found), problems


def _list_file(spec: YoloSpec, split: str, where: Path, found: list, problems: list) -> None:
    """The images a list file names: ``./x`` relative to the list file, anything else to the dataset root."""
    try:
        text = read_regular(where).decode("utf-8")
    except (OSError, ValueError) as exc:
        raise MmpxError(f"{spec.yaml}: field {split!r} names {where}, which cannot be read: {exc}",
                        "give a folder of images or a text file listing them") from None
    roots = [abs_root(spec.root), abs_root(where.parent)]
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        path = os.path.normpath(where.parent / line[2:] if line.startswith("./") else spec.root / line)
        root = next((r for r in roots if inside(r, path)), None)
        if root is None:
            problems.append(FileProblem(f"{where}:{lineno}", f"names {line!r}, which lies outside the dataset "
                                        f"folder {spec.root}; only images inside it are read",
                                        "list images inside the dataset folder (relative to its `path`)"))
            continue
        found.append((path, Path(os.path.relpath(os.path.abspath(path), root)).as_posix()))


def _once(found: list[tuple[str, str]], report: Report) -> list[tuple[str, str]]:
    """Each image file of a split once (a list may name one twice, a link may repeat one): by (st_dev, st_ino)."""
    seen: dict[object, str] = {}
    kept = []
    for path, rel in found:
        try:
            st = os.stat(path)
            key: object = (st.st_dev, st.st_ino)
        except (OSError, ValueError):  # reading it reports the problem
            key = path
        if key in seen:
            report.warn(path, f"the same file as {seen[key]}: converted once")
            continue
        seen[key] = path
        kept.append((path, rel))
    return kept


def _parse_labels(spec: YoloSpec, txt: str, width: int, height: int) -> tuple[list[str], int]:
    """Annotation texts of one label file (none when it is missing: an image without objects), and how many
    instances have no labelled keypoint."""
    try:
        content = read_regular(txt).decode("utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no label file: an image without objects
        return [], 0
    except NotRegular as exc:
        raise FileProblem(txt, f"is {exc.what}, not a regular file; only regular files are read",
                          "replace it with the label file itself") from None
    except OSError as exc:
        raise MmpxError(f"cannot read the label file {txt}: {exc.strerror or exc}") from None
    except ValueError:
        raise MmpxError(f"{txt}: not UTF-8 text", "a label file holds lines of numbers") from None
    k, dim = spec.num_keypoints, spec.dim
    blocks = spec.class_blocks
    expected = 5 + k * dim
    texts, empty = [], 0
    for lineno, line in enumerate(content.splitlines(), 1):
        values = line.split()
        if not values:
            continue
        if len(values) != expected:
            raise MmpxError(f"{txt}:{lineno}: expected {expected} values (class, box, {k} keypoints x "
                            f"{dim}), found {len(values)}", f"kpt_shape in {spec.yaml} says [{k}, {dim}]")
        try:
            cls, nums = int(values[0]), [float(v) for v in values[1:]]
        except ValueError:
            raise MmpxError(f"{txt}:{lineno}: non-numeric value in {line.strip()!r}",
                            "every value must be a number; the class a whole number") from None
        if not 0 <= cls < len(spec.class_names):
            raise MmpxError(f"{txt}:{lineno}: class {cls} is not in names "
                            f"({len(spec.class_names)} classes)", f"add it to names in {spec.yaml}")
        block = range(k) if blocks is None else range(blocks[cls][1], blocks[cls][1] + len(blocks[cls][2]))
        cx, cy, w, h = nums[:4]
        bbox = [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
        points = []
        for i in range(k):
            x, y = nums[4 + i * dim], nums[5 + i * dim]
            v = int(nums[6 + i * dim]) if dim == 3 else (0 if x == 0 and y == 0 else 2)
            if v not in (0, 1, 2):
                raise MmpxError(f"{txt}:{lineno}: keypoint {i} has visibility {nums[6 + i * dim]:g}",
                                "visibility must be 0, 1 or 2")
            if v and i not in block:
                raise MmpxError(f"{txt}:{lineno}: keypoint {spec.keypoint_names[i]!r} is labelled on a line of "
                                f"class {spec.class_names[cls]!r}", "each line labels its own class's keypoints "
                                "only (kpt_names <class>/<keypoint>); give the others 0 0 0")
            if v:
                points.append((i, spec.keypoint_names[i], x * width, y * height, v))
        texts.append(annotation_text(cls + 1, bbox, points, COCO_FORMAT))
        empty += not points
    return texts, empty


def convert_yolo(src: str | Path, out: str | Path, images: str = "copy", overwrite: bool = False,
                 strict: bool = False) -> Report:
    """Convert an Ultralytics pose dataset to ``OUT/annotations/<split>.json``, ``OUT/images/<split>/``,
    ``OUT/metainfo.py`` and ``OUT/report.json``.

    Args:
        src: the data YAML, or a folder holding one (``data.yaml`` or a single ``*.yaml``).
        out: output folder, built beside itself and renamed into place when complete.
        images: ``copy``, ``link`` or ``none`` (``file_name`` relative to the dataset root).
        overwrite: replace an existing non-empty ``out``.
        strict: raise on the first bad image instead of skipping it (a list line leading outside the dataset,
            two images sharing an output name, an image or label file that is no regular file, an unreadable image).

    Raises:
        MmpxError: a missing or invalid YAML field, path or label line, naming the file; every image bad; with
            ``strict``, the first bad image.
    """
    start = time.perf_counter()
    out = Path(out)
    check_out_not_link(out)
    spec = read_pose_yaml(src)
    names = spec.keypoint_names
    report = Report("yolo", str(spec.yaml), str(out), images_mode=images, keypoint_names=names,
                    keypoints_source="kpt_names" if spec.has_kpt_names else "kpt_0.. (no kpt_names in YAML)")
    blocks = spec.class_blocks
    if blocks is None:
        categories = [coco_category(i + 1, name, names, []) for i, name in enumerate(spec.class_names)]
        by_category = None
    else:  # several classes: each category its own keypoints; the spooled names are the union's
        categories = [coco_category(i + 1, name, own, []) for i, (name, _, own) in enumerate(blocks)]
        by_category = {i + 1: names[start:start + len(own)] for i, (_, start, own) in enumerate(blocks)}
    image_id = ann_id = 0
    with staged_output(out, overwrite, inputs=[spec.yaml, spec.root]) as stage:
        placer = ImagePlacer(stage / "images", images)
        labelled, visibility = Counter(), Counter()
        for split in (s for s in SPLITS if s in spec.splits):
            writer = CocoSplitWriter(stage, split)
            found, problems = split_images(spec, split)
            found = _once(found, report)
            if images != "none":  # two images, one output name: both refused, neither overwritten
                refused = clashes((path, path, f"images/{split}/{rel}") for path, rel in found)
                problems += [FileProblem(path, refused[path], "rename one of the images") for path, _ in found
                             if path in refused]
                found = [(path, rel) for path, rel in found if path not in refused]
            report.files_read += len(found) + len(problems)
            for path, rel in found:
                try:
                    width, height = image_size(path)
                    texts, empty = _parse_labels(spec, label_path(path), width, height)
                except FileProblem as problem:
                    problems.append(problem)
                    continue
                image_id += 1
                if images == "none":
                    file_name = Path(os.path.relpath(path, spec.root)).as_posix()
                else:
                    file_name = f"{split}/{rel}"
                    placer.place(path, file_name)
                writer.add_image(image_id, file_name, width, height)
                for text in texts:
                    ann_id += 1
                    writer.add_annotation(ann_id, image_id, text)
                report.files_converted += 1
                report.instances += len(texts)
                report.instances_without_keypoints += empty
                report.images_without_instances += not texts
            for problem in problems:
                if strict:
                    raise problem
                report.skip(problem)
            writer.finish(stage / "annotations" / f"{split}.json", categories, spec.keypoint_names,
                          dict(description=f"converted from YOLO by mmpose-ext ({spec.yaml})", version="1.0"),
                          labelled, visibility, category_names=by_category)
            report.images[split] = writer.num_images
            report.outputs.append(f"annotations/{split}.json")
        if report.files_converted == 0 and report.skipped:  # every image was bad: say why, write nothing
            raise nothing_converted(report, report.files_read, spec.yaml)
        info = build_metainfo(spec.yaml.stem, spec.keypoint_names, swaps=spec.swaps) if blocks is None else \
            _classes_metainfo(spec, blocks)
        write_metainfo(stage / "metainfo.py", info)
        report.keypoints_labelled = {n: labelled.get(n, 0) for n in spec.keypoint_names}
        report.visibility = {str(v): visibility.get(v, 0) for v in (1, 2)}
        report.outputs += (["images/"] if images != "none" else []) + ["metainfo.py", "report.json"]
        report.seconds = round(time.perf_counter() - start, 3)
        report.write(stage)
    return report


def _classes_metainfo(spec: YoloSpec, blocks: list[tuple[str, int, list[str]]]) -> dict:
    """A multi-class metainfo: per class its own keypoints and the swaps ``flip_idx`` gives within its block.

    Raises:
        MmpxError: ``flip_idx`` pairing keypoints of two classes.
    """
    swaps = spec.swaps
    classes = []
    for i, (name, start, own) in enumerate(blocks):
        union = spec.keypoint_names[start:start + len(own)]
        mine = {}
        for full, kp in zip(union, own, strict=True):
            partner = swaps.get(full)
            if partner is not None and partner not in union:
                raise MmpxError(f"{spec.yaml}: flip_idx pairs {full!r} with {partner!r}, a keypoint of another "
                                "class", "flip_idx must pair keypoints within a class's block")
            if partner is not None:
                mine[kp] = own[union.index(partner)]
        classes.append(dict(id=i + 1, name=name, keypoints=own, swaps=mine))
    return build_classes_metainfo(spec.yaml.stem, classes)
