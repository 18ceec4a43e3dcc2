"""``mmpx convert to-yolo``: COCO keypoint file(s) back to an Ultralytics pose dataset.

Writes ``OUT/images/<split>/``, ``OUT/labels/<split>/*.txt`` (``cls cx cy w h x1 y1 v1 ...``, normalised,
6 decimals) and ``OUT/data.yaml`` (``kpt_shape: [K, 3]``, ``flip_idx`` from the metainfo's swaps or inferred
from the keypoint names, ``names``, ``kpt_names``).
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from pathlib import Path

from mmpx.convert.output import ImagePlacer, staged_output
from mmpx.convert.summary import Report
from mmpx.convert.yolo_yaml import pose_yaml_text
from mmpx.errors import MmpxError
from mmpx.metainfo import infer_swaps, keypoint_names, load_metainfo

SPLIT_NAMES = ("train", "val", "test")


def _coco_files(ann: Path, split: str | None) -> dict[str, Path]:
    """Split name -> COCO file: a file (split from ``split`` or its stem), or every ``*.json`` of a folder."""
    if ann.is_dir():
        files = {p.stem: p for p in sorted(ann.glob("*.json"))}
        if not files:
            raise MmpxError(f"no .json files in {ann}", "give a COCO keypoint file or a folder of them")
        return files
    if not ann.is_file():
        raise MmpxError(f"COCO file {ann} does not exist", "give a COCO keypoint file or a folder of them")
    return {split or (ann.stem if ann.stem in SPLIT_NAMES else "train"): ann}


def _load_coco(path: Path) -> dict:
    try:
        coco = json.loads(path.read_text(encoding="utf-8"))
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


def _classes(coco: dict, path: Path) -> tuple[dict[int, int], list[str], list[str]]:
    """Category id -> class index (categories in id order), class names, keypoint names (shared by all)."""
    cats = sorted(coco["categories"], key=lambda c: c["id"])
    kpts = [list(c.get("keypoints") or []) for c in cats]
    if not cats or not kpts[0] or any(k != kpts[0] for k in kpts):
        raise MmpxError(f"{path}: categories must all list the same, non-empty keypoints",
                        "YOLO pose datasets have one keypoint set for all classes")
    return {c["id"]: i for i, c in enumerate(cats)}, [str(c["name"]) for c in cats], kpts[0]


def _label_line(ann: dict, cls: int, width: int, height: int, k: int) -> str:
    x, y, w, h = ann["bbox"]
    values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
    kps = ann.get("keypoints") or [0] * (3 * k)
    if len(kps) != 3 * k:
        raise MmpxError(f"annotation {ann.get('id')} has {len(kps) // 3} keypoints, not {k}",
                        "every annotation needs one (x, y, v) per keypoint of its category")
    parts = [str(cls)] + [f"{v:.6f}" for v in values]
    for i in range(k):
        kx, ky, v = kps[3 * i: 3 * i + 3]
        if v:
            parts += [f"{kx / width:.6f}", f"{ky / height:.6f}", str(int(v))]
        else:
            parts += ["0.000000", "0.000000", "0"]
    return " ".join(parts)


def convert_to_yolo(ann: str | Path, out: str | Path, images: str | Path, metainfo: str | Path | None = None,
                    split: str | None = None, link: bool = False, overwrite: bool = False) -> Report:
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

    Raises:
        MmpxError: a missing or invalid file, an image that is not in ``images``, mismatching keypoints.
    """
    start = time.perf_counter()
    ann, out, images = Path(ann), Path(out), Path(images)
    coco_files = _coco_files(ann, split)
    report = Report("to-yolo", str(ann), str(out), images_mode="link" if link else "copy")
    classes: list[str] | None = None
    names: list[str] = []
    with staged_output(out, overwrite, inputs=[ann, *coco_files.values(), images]) as stage:
        placer = ImagePlacer(stage / "images", report.images_mode)
        for split_name, path in coco_files.items():
            coco = _load_coco(path)
            cat_index, class_names, kpt_names = _classes(coco, path)
            if classes is not None and (class_names, kpt_names) != (classes, names):
                raise MmpxError(f"{path}: categories differ from the other split files",
                                "convert them separately")
            classes, names = class_names, kpt_names
            by_image = defaultdict(list)
            for a in coco["annotations"]:
                if not a.get("iscrowd"):
                    by_image[a["image_id"]].append(a)
            for image in coco["images"]:
                file_name = image["file_name"].replace("\\", "/")
                rel = file_name[len(split_name) + 1:] if file_name.startswith(split_name + "/") else file_name
                src = images / file_name
                if not src.is_file():
                    raise MmpxError(f"{path}: image {file_name!r} is not in {images}",
                                    "give with --images the folder the COCO file names are relative to")
                placer.place(str(src), f"{split_name}/{rel}")
                width, height = image["width"], image["height"]
                lines = [_label_line(a, cat_index[a["category_id"]], width, height, len(names))
                         for a in by_image.get(image["id"], [])]
                label = stage / "labels" / split_name / (os.path.splitext(rel)[0] + ".txt")
                label.parent.mkdir(parents=True, exist_ok=True)
                label.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
                report.files_read += 1
                report.files_converted += 1
                report.instances += len(lines)
                report.images_without_instances += not lines
            report.images[split_name] = len(coco["images"])
        swaps = _swaps(metainfo, names)
        flip_idx = [names.index(swaps[n]) if n in swaps else i for i, n in enumerate(names)]
        text = pose_yaml_text(out.resolve(), list(coco_files), classes, names, flip_idx)
        (stage / "data.yaml").write_text(text, encoding="utf-8")
        report.keypoint_names = names
        report.keypoints_source = f"--metainfo {metainfo}" if metainfo else "COCO categories (swaps inferred)"
        report.outputs = ["data.yaml", "images/", "labels/", "report.json"]
        report.seconds = round(time.perf_counter() - start, 3)
        report.write(stage)
    return report


def _swaps(metainfo: str | Path | None, names: list[str]) -> dict[str, str]:
    if metainfo is None:
        return infer_swaps(names)
    info = load_metainfo(metainfo)
    if keypoint_names(info) != names:
        raise MmpxError(f"metainfo {metainfo} names keypoints {keypoint_names(info)}, the COCO file {names}",
                        "give the metainfo written with this dataset")
    return {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values() if kp.get("swap")}
