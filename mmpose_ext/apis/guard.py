"""What a config reads (annotation files, image folders, weights), so a run's outputs can be checked against it
(:func:`mmpx.atomic.guard.check_apart`) before anything is written: ``mmpx test --show-dir`` pointed at the test
images, ``--dump`` at an annotation file, a work dir whose config copy would overwrite the config itself.
"""

from __future__ import annotations

import os.path as osp
import sys
from collections.abc import Iterator
from pathlib import Path

from mmpx.atomic.guard import check_apart
from mmpx.atomic.stale import recover_missing

LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def _datasets(dataset) -> Iterator[dict]:
    """Every dataset dict inside ``dataset`` (wrappers such as ConcatDataset, RepeatDataset, CombinedDataset)."""
    if isinstance(dataset, dict):
        yield dataset
        for key in ("dataset", "datasets"):
            inner = dataset.get(key)
            for item in inner if isinstance(inner, (list, tuple)) else [inner]:
                yield from _datasets(item)


def _join(root: str, path) -> str | None:
    if not isinstance(path, (str, Path)) or not str(path) or "://" in str(path):
        return None
    return osp.join(root, str(path)) if root else str(path)


def data_paths(cfg) -> dict[str, list[str]]:
    """The files and folders ``cfg``'s dataloaders read: ``{"the config's train_dataloader data": [...]}``."""
    found: dict[str, list[str]] = {}
    for loader in LOADERS:
        dataset = (cfg.get(loader) or {}).get("dataset")
        paths = []
        for item in _datasets(dataset):
            root = item.get("data_root") or ""
            root = root if isinstance(root, str) and "://" not in root else ""
            paths.append(_join(root, item.get("ann_file")))
            prefix = item.get("data_prefix")
            for value in (prefix.values() if isinstance(prefix, dict) else []):
                paths.append(_join(root, value) if value else None)
            if root:
                paths.append(root)
        paths = [p for p in paths if p]
        if paths:
            found[f"the config's {loader} data"] = paths
    return found


_FROM_CONFIG = object()


def check_run_outputs(cfg, config, outputs: dict, checkpoint=None, load_from=_FROM_CONFIG) -> None:
    """Refuse outputs (option -> path) that are, lie inside or contain what ``cfg`` (and ``checkpoint``) reads.

    ``load_from`` is the checkpoint the run starts from when it is not the config's own (what ``--resume`` picked).

    A work dir (``--work-dir``) may hold the config and the checkpoint; any output may lie inside the data's
    folders (a dataset reads only the files its annotations list); mmengine's copy of the config is never written
    over the config itself (``no_config_copy_over_itself`` in :mod:`mmpose_ext.apis.run`).
    """
    data = data_paths(cfg)
    for note in recover_missing([p for paths in data.values() for p in paths]):
        print(f"warning: {note}", file=sys.stderr, flush=True)  # put back before anything reads the data
    inputs = {"CONFIG": [str(config)] if osp.exists(str(config)) else [], **data}
    load_from = cfg.get("load_from") if load_from is _FROM_CONFIG else load_from
    if load_from:
        inputs["the config's load_from"] = [str(load_from)]
    if checkpoint is not None:
        inputs["CHECKPOINT"] = [str(checkpoint)]
    # a dataset reads the files its annotations list, never a whole folder: writing inside its root or image
    # folder (a work dir under data_root='./') mixes nothing in; being or holding them would
    check_apart(outputs, inputs, may_contain=["--work-dir"], writes_inside=list(data))


__all__ = ["check_run_outputs", "data_paths"]
