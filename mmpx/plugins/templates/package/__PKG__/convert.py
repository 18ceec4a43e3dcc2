"""``mmpx convert __NAME__-csv``: one CSV row per object to the layout the plugin's config reads.

The CSV's header is ``image`` then ``<keypoint>_x, <keypoint>_y, <keypoint>_v`` for each keypoint (v: 0 not
labelled, 1 occluded, 2 visible), e.g. ``image,nose_x,nose_y,nose_v,tail_x,tail_y,tail_v``. Boxes are the
labelled keypoints' extent plus a margin. Change the parsing to your own format; keep the checks.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Annotated

import typer
from mmpx import atomic
from mmpx.convert.output import check_out, staged_output, val_indices
from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, dumps

MARGIN = 0.1  # of the keypoints' extent, on each side of the box


def _keypoints(header: list[str], csv_path: Path) -> list[str]:
    if not header or header[0] != "image" or (len(header) - 1) % 3:
        raise MmpxError(f"{csv_path}: the header must be 'image' then <name>_x,<name>_y,<name>_v per keypoint, "
                        f"got {','.join(header)[:80]!r}", "e.g. image,nose_x,nose_y,nose_v")
    names = []
    for i in range(1, len(header), 3):
        name = header[i].removesuffix("_x")
        if header[i:i + 3] != [f"{name}_x", f"{name}_y", f"{name}_v"]:
            raise MmpxError(f"{csv_path}: columns {i + 1}-{i + 3} are {header[i:i + 3]}, "
                            f"expected {name}_x, {name}_y, {name}_v", "one x, y, v triple per keypoint, in order")
        names.append(name)
    return names


def _row(row: list[str], header: list[str], csv_path: Path, line: int) -> tuple[str, list[float]]:
    if len(row) != len(header):
        raise MmpxError(f"{csv_path}, line {line}: {len(row)} values, the header has {len(header)}",
                        "every row: the image, then x, y, v per keypoint")
    values = []
    for column, text in zip(header[1:], row[1:], strict=True):
        try:
            values.append(float(text))
        except ValueError:
            raise MmpxError(f"{csv_path}, line {line}, column {column}: {text!r} is not a number",
                            "write unlabelled keypoints as 0,0,0") from None
        if column.endswith("_v") and values[-1] not in (0, 1, 2):
            raise MmpxError(f"{csv_path}, line {line}, column {column}: visibility {text!r}",
                            "0 not labelled, 1 occluded, 2 visible")
    return row[0], values


def convert_csv(csv_path: Path, out: Path, overwrite: bool = False, val_ratio: float = 0.2, seed: int = 0) -> dict:
    """Convert ``csv_path`` (images beside it) to what the plugin's config reads: ``out/annotations/train.json``
    and ``val.json`` (a seeded split by image, as ``mmpx convert labelme`` makes it), ``out/images/``,
    ``out/metainfo.py`` (left/right swaps inferred from the keypoint names) and ``out/report.json``.

    Nothing is written unless every row is good. The output goes through mmpx's own guard
    (``mmpx.convert.output.staged_output``, as ``mmpx convert``): ``out`` may not be, contain or lie inside an
    input; a non-empty ``out`` is replaced only with ``overwrite`` and only when a conversion wrote it (its
    ``report.json``); it is built beside ``out`` and renamed in, under a lock that refuses a second run.

    Returns:
        Counts: images, objects, keypoints, train and val images.
    """
    import cv2

    csv_path, out = Path(csv_path), Path(out)
    if not csv_path.is_file():
        raise MmpxError(f"{csv_path}: no such CSV file", "give the CSV of your labels")
    check_out(out, overwrite, [csv_path])  # now, before reading the images
    try:
        rows = list(csv.reader(csv_path.read_text(encoding="utf-8").splitlines()))
    except UnicodeDecodeError as exc:
        raise MmpxError(f"{csv_path}: not UTF-8 text ({exc.reason} at byte {exc.start})", "save it as UTF-8") from None
    names = _keypoints(rows[0] if rows else [], csv_path)
    images, annotations = {}, []
    for line, row in enumerate(rows[1:], start=2):
        image, values = _row(row, rows[0], csv_path, line)
        if image not in images:
            if Path(image).is_absolute() or ".." in Path(image).parts:  # never read outside the CSV's folder
                raise MmpxError(f"{csv_path}, line {line}: image {image!r} is outside the CSV's folder",
                                "give image names relative to the CSV's folder")
            picture = cv2.imread(str(csv_path.parent / image))
            if picture is None:
                raise MmpxError(f"{csv_path}, line {line}: image {image} is missing or not an image",
                                f"put it beside the CSV ({csv_path.parent})")
            images[image] = dict(id=len(images) + 1, file_name=Path(image).as_posix(), height=picture.shape[0],
                                 width=picture.shape[1])
        annotations.append(_annotation(values, len(annotations) + 1, images[image]["id"], csv_path, line))
    if not annotations:
        raise MmpxError(f"{csv_path}: no rows after the header", "one row per labelled object")
    category = dict(id=1, name="object", supercategory="object", keypoints=names, skeleton=[])
    in_val = val_indices(len(images), val_ratio, seed)  # by image: an image's objects stay together
    splits = {"train": [], "val": []}
    for index, image in enumerate(images.values()):
        splits["val" if index in in_val else "train"].append(image)
    sources = [csv_path.parent / image for image in images]
    counts = dict(images=len(images), objects=len(annotations), keypoints=len(names),
                  train=len(splits["train"]), val=len(splits["val"]))
    with staged_output(out, overwrite, inputs=[csv_path, *sources]) as staging:
        for image, source in zip(images, sources, strict=True):
            (staging / "images" / image).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / "images" / image)
        for split, chosen in splits.items():
            ids = {image["id"] for image in chosen}
            atomic.write_json(staging / "annotations" / f"{split}.json", dict(
                images=chosen, annotations=[a for a in annotations if a["image_id"] in ids], categories=[category]))
        # the names' left/right partners become swaps (flip augmentation and flip test need them)
        atomic.write_text(staging / "metainfo.py", dumps(build_metainfo("__NAME__", names)))
        # converter + out mark the folder as a conversion's: a later --overwrite may replace it
        atomic.write_json(staging / "report.json", dict(converter="__NAME__-csv", out=str(out),
                                                        source=str(csv_path), **counts))
    return counts


def _annotation(values: list[float], ann_id: int, image_id: int, csv_path: Path, line: int) -> dict:
    """A COCO keypoint annotation; the box is the labelled keypoints' extent plus a margin."""
    labelled = [(values[i], values[i + 1]) for i in range(0, len(values), 3) if values[i + 2] > 0]
    if not labelled:
        raise MmpxError(f"{csv_path}, line {line}: no keypoint is labelled", "drop the row or label a point")
    xs, ys = [p[0] for p in labelled], [p[1] for p in labelled]
    w, h = max(xs) - min(xs), max(ys) - min(ys)
    x0, y0 = min(xs) - MARGIN * w, min(ys) - MARGIN * h
    return dict(id=ann_id, image_id=image_id, category_id=1, iscrowd=0, keypoints=values,
                num_keypoints=len(labelled), area=w * h * (1 + 2 * MARGIN) ** 2,
                bbox=[x0, y0, w * (1 + 2 * MARGIN), h * (1 + 2 * MARGIN)])


def command(
    csv_path: Annotated[Path, typer.Argument(help="The CSV of labels (images beside it).", show_default=False)],
    out: Annotated[Path, typer.Argument(help="Output folder.", show_default=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite",
                                            help="Replace OUT if an earlier conversion wrote it.")] = False,
    val_ratio: Annotated[float, typer.Option("--val-ratio", help="Share of the images for validation.")] = 0.2,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the train/val split.")] = 0,
) -> None:
    """Convert a CSV of keypoints (one row per object) to COCO keypoints (annotations/train.json, val.json),
    images and an MMPose metainfo file: the layout the plugin's config reads."""
    counts = convert_csv(csv_path, out, overwrite=overwrite, val_ratio=val_ratio, seed=seed)
    typer.echo(f"wrote {counts['objects']} objects in {counts['images']} images ({counts['keypoints']} keypoints "
               f"each; {counts['train']} train, {counts['val']} val images) to {out}")
