"""Checks a config before the first training step, in seconds: what would otherwise fail after the first batch.

For every dataloader the command uses (train and val to train, test to test; each sub-dataset of a
``CombinedDataset``): the annotation file and image
folder exist, the metainfo file exists and is sound, the annotation file passes ``mmpx check data`` (without
opening images) read where the dataset class reads keypoints (:mod:`mmpx.check.layouts`: COCO-WholeBody's five
arrays, ...), and its keypoint count matches the metainfo; then the head's output channels match that count,
and its input channels, feature-map size and heatmap size match what the backbone returns (one forward pass);
``load_from`` and evaluator ``ann_file`` exist, and no evaluator is one known to compute nothing; bottom-up datasets
(one-stage and bottom-up models) also get :mod:`mmpose_ext.apis.preflight_whole`'s checks. Reuses
:mod:`mmpx.check` and :mod:`mmpx.metainfo`.
"""

from __future__ import annotations

import os.path as osp
from pathlib import Path

from mmpx.check import check_data
from mmpx.check.layouts import Layout, layout_of
from mmpx.errors.problems import ERROR, Problem
from mmpx.metainfo import keypoint_names, load_metainfo
from mmpx.metainfo.rules import validate_metainfo

PHASES = ("train", "val", "test")


def _mmpose_metainfo_path(path: str) -> str:
    """MMPose resolves a relative metainfo path missing here under its own configs (``.mim``), so do we."""
    if osp.isfile(path):
        return path
    import mmpose

    candidate = osp.join(osp.dirname(mmpose.__file__), ".mim", path)
    return candidate if osp.isfile(candidate) else path


def _dataset_class(dataset: dict):
    from mmpose_ext.registry import DATASETS

    kind = dataset.get("type")
    return DATASETS.get(kind) if isinstance(kind, str) else kind if isinstance(kind, type) else None


def _metainfo_file(dataset: dict) -> tuple[str | None, str | None]:
    """``(path, default_of)``: the metainfo file a dataset config uses, its own ``metainfo=dict(from_file=...)``
    (``default_of`` None) or its class default (``default_of`` the class name)."""
    meta = dataset.get("metainfo")
    if isinstance(meta, dict) and "from_file" in meta:
        return _mmpose_metainfo_path(meta["from_file"]), None
    cls = _dataset_class(dataset)
    default = getattr(cls, "METAINFO", None) or {}
    if "from_file" not in default:
        return None, None
    return _mmpose_metainfo_path(default["from_file"]), cls.__name__


def _layout(dataset: dict) -> Layout | None:
    """Where the dataset's class reads keypoints (COCO-WholeBody's five arrays, ...): asked of the class and its
    bases, so a subclass of an MMPose dataset reads as its parent does."""
    cls = _dataset_class(dataset)
    return layout_of([c.__name__ for c in cls.__mro__] if cls is not None else [str(dataset.get("type"))])


def _default_note(default_of: str, meta_path: str) -> str:
    return f"{default_of}'s default metainfo {osp.basename(meta_path)}: the config sets none"


def _metainfo_fix(where: str, default_of: str | None, meta_path: str | None, count: int | None) -> str:
    """What an annotation holding ``{n}`` keypoints, not the metainfo's ``count``, asks for (``{n}`` is filled in
    by the data check)."""
    fix = f"set {where}.metainfo=dict(from_file=...) in the config to a {{n}}-keypoint metainfo file"
    if default_of is None or meta_path is None:
        return fix + " if meant"
    return (f"{where} has no metainfo in the config and takes {default_of}'s default ({osp.basename(meta_path)}, "
            f"{count} keypoints): {fix} (mmpx convert writes one)")


def _datasets(cfg, loader: str) -> list[tuple[str, dict]]:
    section = cfg.get(loader)
    if not section or not section.get("dataset"):
        return []
    found, stack = [], [(f"{loader}.dataset", section["dataset"])]
    while stack:
        where, ds = stack.pop(0)
        if "datasets" in ds:  # CombinedDataset and friends
            stack += [(f"{where}.datasets[{i}]", sub) for i, sub in enumerate(ds["datasets"])]
        elif "dataset" in ds:  # RepeatDataset-style wrappers
            stack.append((f"{where}.dataset", ds["dataset"]))
        else:
            found.append((where, ds))
    return found


def _head_channels(cfg) -> tuple[str, int] | None:
    head = (cfg.get("model") or {}).get("head") or {}
    for key in ("out_channels", "num_keypoints"):
        if isinstance(head.get(key), int):
            return f"model.head.{key}", head[key]
    return None


def _error_maker(config: str, where: str):
    def error(field: str, message: str, hint: str, code: str) -> Problem:
        return Problem(ERROR, config, f"{where}.{field}", message, hint, code)

    return error


def _files(error, ds: dict) -> tuple[list[Problem], str | None]:
    """The annotation file and the image folder exist (pose and detection datasets alike); returns the problems
    and the annotation file's path when it exists."""
    problems, root = [], ds.get("data_root") or ""
    ann_path = osp.join(root, ds["ann_file"]) if ds.get("ann_file") else None
    if ann_path is not None and not osp.isfile(ann_path):
        problems.append(error("ann_file", f"annotation file {ann_path} does not exist",
                              "check data_root and ann_file (mmpx convert ... writes annotations/*.json)",
                              "ann-missing"))
        ann_path = None
    img_dir = (ds.get("data_prefix") or {}).get("img")
    if img_dir is not None and not osp.isdir(osp.join(root, img_dir)):
        problems.append(error("data_prefix.img", f"image folder {osp.join(root, img_dir)} does not exist",
                              "check data_root and data_prefix=dict(img=...)", "images-missing"))
    return problems, ann_path


def _check_dataset(config: str, where: str, ds: dict, seen: dict) -> tuple[list[Problem], list | None]:
    """The dataset's problems, and ``[keypoint count, class whose default metainfo it is or None, metainfo path,
    whether the annotations hold that count]`` when its metainfo is known."""
    error = _error_maker(config, where)
    problems, ann_path = _files(error, ds)
    counted = None
    meta_path, default_of = _metainfo_file(ds)
    if meta_path is not None:
        if not osp.isfile(meta_path):
            problems.append(error("metainfo", f"metainfo file {meta_path} does not exist",
                                  "fix metainfo=dict(from_file=...)", "metainfo-missing"))
            meta_path = None
        else:
            if meta_path not in seen:
                info = load_metainfo(meta_path)
                seen[meta_path] = (info, [p for p in validate_metainfo(info, meta_path) if p.severity == ERROR])
            info, meta_problems = seen[meta_path]
            problems += meta_problems
            counted = [len(keypoint_names(info)), default_of, meta_path]
    layout, agrees = _layout(ds), True
    if ann_path is not None and ann_path.endswith(".json"):
        key = (ann_path, meta_path, layout)
        if key not in seen:  # val and test often read the same file
            fix = _metainfo_fix(where, default_of, meta_path, counted[0] if counted else None)
            found = [p for p in check_data(ann_path, metainfo=meta_path, layout=layout, metainfo_fix=fix)
                     if p.severity == ERROR]
            problems += found
            seen[key] = not any(p.code == "keypoints-length" for p in found)
        agrees = seen[key]
    headbox = ds.get("headbox_file")
    if headbox and not osp.isfile(headbox):  # MPII's PCKh: otherwise a KeyError after a whole epoch
        problems.append(error("headbox_file", f"head-box file {headbox} does not exist",
                              "MPII's PCKh needs annotations/mpii_gt_val.mat from MMPose's MPII download "
                              "(docs/reference/datasets.md)", "headbox-missing"))
    if counted is not None:
        counted.append(agrees)
    return problems, counted


def _check_detection_dataset(config: str, where: str, ds: dict, seen: dict) -> list[Problem]:
    """An MMDetection dataset: its files exist, the annotation file is COCO, and its categories include the
    classes the config trains (mmdet keeps only those: no match gives an empty dataset and an obscure error)."""
    import json

    error = _error_maker(config, where)
    problems, ann_path = _files(error, ds)
    if ann_path is None or not ann_path.endswith(".json"):
        return problems
    if ann_path not in seen:
        try:
            with open(ann_path, encoding="utf-8") as f:
                data = json.load(f)
            seen[ann_path] = [str(c.get("name")) for c in data.get("categories") or []]
        except (OSError, ValueError, RecursionError, AttributeError) as exc:
            seen[ann_path] = exc
    found = seen[ann_path]
    classes = list(((ds.get("metainfo") or {}).get("classes")) or [])
    if isinstance(found, Exception):
        problems.append(error("ann_file", f"{ann_path} is not a COCO file ({type(found).__name__})",
                              "give the COCO JSON that mmpx convert wrote", "ann-invalid"))
    elif classes and not set(classes) & set(found):
        problems.append(error("metainfo.classes", f"none of the classes {classes} is a category of {ann_path} "
                              f"(it has {found}): mmdet would train on no box",
                              "set metainfo=dict(classes=(...)) to the category names (mmpx convert "
                              "--category NAME sets it)", "det-classes"))
    return problems


def _once(problems: list[Problem]) -> list[Problem]:
    """One problem per (code, message) once the location is dropped: val and test often share a file."""
    seen, out = set(), []
    for p in problems:
        key = (p.code, p.message.split(" but ")[0] if p.code == "head-keypoints" else p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _norm_items(evaluator: dict) -> set[str]:
    default = "head" if evaluator.get("type") == "MpiiPCKAccuracy" else "bbox"
    items = evaluator.get("norm_item", default)
    return {items} if isinstance(items, str) else set(items)


def _evaluators(cfg, phase: str) -> list:
    evaluators = cfg.get(f"{phase}_evaluator") or []
    return evaluators if isinstance(evaluators, list) else [evaluators]


def _no_metric(cfg, config: str, phase: str) -> list[Problem]:
    """``MpiiPCKAccuracy`` computes PCKh only: without ``'head'`` in ``norm_item`` it returns no metric, and the
    run has nothing to report or keep the best checkpoint by (MetricCheckHook would stop it at validation)."""
    key = f"{phase}_evaluator"
    listed = isinstance(cfg.get(key), list)
    return [Problem(ERROR, config, f"{key}{f'[{i}]' if listed else ''}.norm_item",
                    f"MpiiPCKAccuracy with norm_item={ev.get('norm_item')!r} computes no metric: it scores PCKh only "
                    "(norm_item='head')", "to score without head boxes use dict(type='PCKAccuracy', "
                    "norm_item='bbox'); for PCKh keep MpiiPCKAccuracy's norm_item='head' and give the dataset its "
                    "headbox_file", "evaluator-no-metric")
            for i, ev in enumerate(_evaluators(cfg, phase))
            if isinstance(ev, dict) and ev.get("type") == "MpiiPCKAccuracy" and "head" not in _norm_items(ev)]


def _head_sizes(cfg, config: str, phase: str) -> list[Problem]:
    """PCKh (``norm_item='head'``) reads each sample's head size, which MpiiDataset has only from headbox_file."""
    if not any(isinstance(ev, dict) and "head" in _norm_items(ev) for ev in _evaluators(cfg, phase)):
        return []
    return [Problem(ERROR, config, f"{where}.headbox_file", f"{phase}_evaluator computes PCKh (normalised by head "
                    f"size) but {where} ({ds.get('type')}) has no headbox_file",
                    "add headbox_file=f'{data_root}/annotations/mpii_gt_val.mat' to the dataset (MMPose's MPII "
                    "configs do), or score without head boxes: dict(type='PCKAccuracy', norm_item='bbox')",
                    "headbox-missing")
            for where, ds in _datasets(cfg, f"{phase}_dataloader")
            if ds.get("type") == "MpiiDataset" and not ds.get("headbox_file")]


def preflight(cfg, config: str | Path, phases=PHASES) -> list[Problem]:
    """Every problem found in ``cfg`` (loaded from ``config``) before it runs; empty when it is ready.

    Args:
        cfg: the loaded mmengine ``Config`` (after ``--cfg-options``).
        config: its path, named in each problem.
        phases: what the command runs: ``train`` and ``val`` for training, ``test`` for a test; only their
            dataloaders and evaluators are checked (a test needs no training file).
    """
    config = str(config)
    problems, seen, counts = [], {}, []
    if cfg.get("default_scope") == "mmdet":  # a detector (the top-down flow's other model): no keypoints
        for phase in phases:
            for where, ds in _datasets(cfg, f"{phase}_dataloader"):
                problems += _check_detection_dataset(config, where, ds, seen)
        return _once(problems + _common(cfg, config, phases))
    whole = []  # bottom-up datasets: checked again for what whole-image models need
    for phase in phases:
        for where, ds in _datasets(cfg, f"{phase}_dataloader"):
            found, counted = _check_dataset(config, where, ds, seen)
            problems += found
            whole.append((phase, where, ds))
            if counted is not None:
                counts.append((where, counted))
        if phase != "train":
            problems += _head_sizes(cfg, config, phase) + _no_metric(cfg, config, phase)
    from mmpose_ext.apis.preflight_whole import whole_image_problems

    problems += whole_image_problems(cfg, config, whole, seen)
    head = _head_channels(cfg)
    if head is not None:
        problems += [_head_problem(config, head, where, *counted) for where, counted in counts
                     if counted[0] != head[1]]
    from mmpose_ext.models.backbone import head_problems

    return _once(problems + head_problems(cfg, config) + _common(cfg, config, phases))


def _head_problem(config: str, head: tuple[str, int], where: str, count: int, default_of: str | None,
                  meta_path: str, data_agrees: bool) -> Problem:
    """The head predicts another number of keypoints than the dataset's metainfo has. When the annotations do not
    hold the metainfo's count either, the metainfo is the slip (often a class default: COCO's 17 for
    ``CocoDataset``), not the head."""
    field, predicted = head
    source = "from its metainfo" if default_of is None else _default_note(default_of, meta_path)
    message = f"the head predicts {predicted} keypoints but {where} has {count} ({source})"
    hint = (f"set {field}={count} (mmpx train --load-from loads the other tensors of a checkpoint trained with "
            "another count)")
    if not data_agrees:
        hint = (f"its annotations do not hold {count} keypoints either: set {where}.metainfo=dict(from_file=...) in "
                f"the config to the data's metainfo file (mmpx convert writes one), then {field} to its count")
    return Problem(ERROR, config, field, message, hint, "head-keypoints")


def _common(cfg, config: str, phases) -> list[Problem]:
    """``load_from`` and the evaluators' ``ann_file`` exist, and the loaders' worker settings go together (pose
    and detection configs alike)."""
    problems = []
    for phase in phases:
        loader = cfg.get(f"{phase}_dataloader") or {}
        if loader.get("persistent_workers") and not loader.get("num_workers"):  # torch's ValueError otherwise
            problems.append(Problem(ERROR, config, f"{phase}_dataloader.persistent_workers",
                                    "persistent_workers=True needs num_workers > 0",
                                    f"set {phase}_dataloader.persistent_workers=False with num_workers=0",
                                    "loader-workers"))
    load_from = cfg.get("load_from")
    if load_from and "://" not in str(load_from) and not osp.isfile(load_from):
        problems.append(Problem(ERROR, config, "load_from", f"checkpoint {load_from} does not exist",
                                "fix the path or drop load_from", "load-from-missing"))
    for key in (f"{phase}_evaluator" for phase in phases if phase != "train"):
        evaluators = cfg.get(key) or []
        for i, ev in enumerate(evaluators if isinstance(evaluators, list) else [evaluators]):
            ann = ev.get("ann_file") if isinstance(ev, dict) else None
            if ann and not osp.isfile(ann):
                problems.append(Problem(ERROR, config, f"{key}[{i}].ann_file", f"annotation file {ann} does not exist",
                                        "fix the path, or drop ann_file to score the dataset's own annotations",
                                        "evaluator-ann-missing"))
    return problems
