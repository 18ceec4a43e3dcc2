"""Preflight for whole-image (one-stage and bottom-up) datasets: what RTMO, DEKR and associative embedding need
of the data beyond what a top-down model does, checked in seconds before training.

A whole-image model is taught that every pixel outside a labelled instance is background, so an instance that
MMPose silently drops in bottom-up mode (no box, or a box without any labelled keypoint) is a car the model
learns NOT to see: for a top-down model the same record is merely skipped. Checked for each dataset with
``data_mode='bottomup'``: the image files exist (whole images, not crops); every instance with keypoints has a
box (an error); boxes without keypoints are counted (a warning: every instance must be labelled); crowd regions
(``iscrowd=1``) are counted and said to be ignored; images without annotations are counted (kept: negatives for
evaluation; MMPose's bottom-up training samples only images with instances); a val/test file scored by
``CocoMetric(ann_file=...)`` has the ``area``, ``num_keypoints`` and ``iscrowd`` COCOeval reads of each record.
"""

from __future__ import annotations

import json
import os.path as osp

from mmpx.errors.problems import Problem, error, warning

SHOWN = 3  # examples named in a message


def _examples(items: list) -> str:
    more = f", ... ({len(items)} in all)" if len(items) > SHOWN else ""
    return ", ".join(str(i) for i in items[:SHOWN]) + more


def _load(path: str, seen: dict):
    key = ("whole-image", path)
    if key not in seen:
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
            seen[key] = data if isinstance(data, dict) else None
        except (OSError, ValueError, RecursionError):
            seen[key] = None  # the data check reports an unreadable file
    return seen[key]


def _has_keypoints(ann: dict) -> bool:
    kpts = ann.get("keypoints")
    return isinstance(kpts, list) and any(isinstance(v, (int, float)) and v > 0 for v in kpts[2::3])


def _box_ok(ann: dict) -> bool:
    box = ann.get("bbox")
    return (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)
            and box[2] > 0 and box[3] > 0)


def check_whole_image_dataset(config: str, where: str, ds: dict, scored: bool, seen: dict) -> list[Problem]:
    """The problems of one bottom-up dataset ``ds`` at ``where`` (``train_dataloader.dataset``); ``scored``: an
    evaluator reads the same file through ``ann_file`` (COCOeval's fields must be there)."""
    root = ds.get("data_root") or ""
    ann_path = osp.join(root, ds["ann_file"]) if ds.get("ann_file") else None
    data = _load(ann_path, seen) if ann_path and ann_path.endswith(".json") and osp.isfile(ann_path) else None
    if data is None:
        return []  # a missing or unreadable file: the common checks name it
    images = [im for im in data.get("images") or [] if isinstance(im, dict)]
    anns = [a for a in data.get("annotations") or [] if isinstance(a, dict)]
    problems = []
    img_dir = osp.join(root, (ds.get("data_prefix") or {}).get("img") or "")
    if osp.isdir(img_dir):
        missing = [im.get("file_name") for im in images
                   if not osp.isfile(osp.join(img_dir, str(im.get("file_name"))))]
        if missing:
            problems.append(error(config, f"{where}.data_prefix.img", f"{len(missing)} of {len(images)} images of "
                                  f"{ann_path} are not under {img_dir}: {_examples(missing)}",
                                  "a whole-image model reads every image of the file: copy them (mmpx convert "
                                  "... --images copy) or fix data_prefix", "whole-image-missing"))
    no_box, unlabelled, crowd, annotated = [], [], 0, set()
    fields = {"area": 0, "num_keypoints": 0, "iscrowd": 0}
    for i, ann in enumerate(anns):
        annotated.add(ann.get("image_id"))
        for name in fields:
            fields[name] += name not in ann
        if ann.get("iscrowd"):
            crowd += 1
        elif _has_keypoints(ann) and not _box_ok(ann):
            no_box.append(f"annotations[{i}]")
        elif not _has_keypoints(ann):
            unlabelled.append(ann.get("image_id"))
    if no_box:
        problems.append(error(config, f"{where}.ann_file", f"{ann_path}: {len(no_box)} instance(s) have keypoints "
                              f"but no usable bbox ({_examples(no_box)}): MMPose's bottom-up loader drops them, so a "
                              "whole-image model learns those objects as background",
                              "give every instance its box [x, y, width, height] (mmpx convert writes one per "
                              "labelled object), or mark the region iscrowd=1 to ignore it", "whole-image-bbox"))
    if unlabelled:
        images_hit = sorted(set(unlabelled), key=str)
        problems.append(warning(config, f"{where}.ann_file", f"{ann_path}: {len(unlabelled)} instance(s) in "
                                f"{len(images_hit)} image(s) have a box but no labelled keypoint (image_id "
                                f"{_examples(images_hit)}): a whole-image model learns them as background",
                                "every instance must be labelled: label its keypoints, or set iscrowd=1 on it to "
                                "ignore the region", "whole-image-unlabelled"))
    if crowd:
        problems.append(warning(config, f"{where}.ann_file", f"{ann_path}: {crowd} crowd region(s) (iscrowd=1) "
                                "are ignored: masked out of the loss and of the score", "",
                                "whole-image-crowd"))
    negatives = [im.get("id") for im in images if im.get("id") not in annotated]
    if negatives:
        problems.append(warning(config, f"{where}.ann_file", f"{ann_path}: {len(negatives)} of {len(images)} images "
                                "have no annotation: kept as negatives (scored: a detection there is a false "
                                "positive); MMPose's bottom-up training samples only images with instances", "",
                                "whole-image-negatives"))
    lacking = [f"{name} ({count})" for name, count in fields.items() if count]
    if scored and lacking:
        problems.append(error(config, f"{where}.ann_file", f"{ann_path}: records without {', '.join(lacking)}: "
                              "CocoMetric(ann_file=...) scores this file with COCOeval, which reads each record's "
                              "area, num_keypoints and iscrowd", "add them (mmpx convert writes all three), or "
                              "drop the evaluator's ann_file", "whole-image-eval-fields"))
    return problems


def whole_image_problems(cfg, config: str, datasets: list[tuple[str, str, dict]], seen: dict) -> list[Problem]:
    """The problems of the bottom-up datasets among ``datasets`` (``(phase, where, dataset)``); a dataset of
    another mode is left to the top-down checks."""
    problems = []
    for phase, where, ds in datasets:
        if ds.get("data_mode") != "bottomup":
            continue
        evaluators = cfg.get(f"{phase}_evaluator") or []
        evaluators = evaluators if isinstance(evaluators, list) else [evaluators]
        ann = osp.join(ds.get("data_root") or "", ds.get("ann_file") or "")
        scored = any(isinstance(ev, dict) and ev.get("ann_file") and osp.normpath(ev["ann_file"]) ==
                     osp.normpath(ann) for ev in evaluators)
        problems += check_whole_image_dataset(config, where, ds, scored, seen)
    return problems
