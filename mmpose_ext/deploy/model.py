"""Build a top-down model to run or export, and find its keypoint metainfo: the checkpoint's first.

``mmpose.apis.init_model(cfg, None)`` has two traps for a plugin that follows docs/guides/plugins.md:

- it reads the metainfo of the config's training dataset before anyone can hand it the checkpoint's, and
  ``parse_pose_metainfo`` asserts ``'dataset_name' in metainfo``: a dataset class that builds its keypoints from
  the files it loads (a DeepLabCut or SLEAP project) has no class ``METAINFO`` and fails there;
- callers clear the backbone's ``init_cfg`` by setting it, which hands ``init_cfg=None`` to a backbone that is a
  plain ``nn.Module`` and takes no such argument.

:func:`build_model` builds as ``init_model`` does without either; :func:`dataset_meta` gives the checkpoint's
``meta.dataset_meta`` first, then the config's datasets' metainfo, else one :class:`~mmpx.errors.ConfigError`.
"""

from __future__ import annotations

from mmpx.errors import ConfigError

PHASES = ("train", "val", "test")


def build_model(cfg, device: str = "cpu"):
    """The pose model of ``cfg.model``, built as ``init_model`` builds it, in eval mode on ``device``; weights and
    ``dataset_meta`` are the caller's to set."""
    from mmengine.model.utils import revert_sync_batchnorm
    from mmengine.registry import init_default_scope
    from mmpose.models.builder import build_pose_estimator

    backbone = cfg.model.get("backbone")
    if isinstance(backbone, dict) and "init_cfg" in backbone:
        backbone["init_cfg"] = None  # weights come from the checkpoint: never download; only where the config set it
    cfg.model.train_cfg = None
    scope = cfg.get("default_scope", "mmpose")
    if scope is not None:
        init_default_scope(scope)
    model = revert_sync_batchnorm(build_pose_estimator(cfg.model))
    model.cfg = cfg  # inference_topdown reads the test pipeline from here
    return model.to(device).eval()


def dataset_meta(checkpoint_meta: dict | None, cfg, config) -> dict:
    """The parsed metainfo a model predicts: the checkpoint's ``meta.dataset_meta`` when it has one, else the
    first of the config's train/val/test datasets that names its metainfo (``metainfo=`` or the class's
    ``METAINFO``).

    Raises:
        ConfigError: neither has one (a dataset class that reads its keypoints from its files, and a checkpoint
            without ``meta.dataset_meta`` or none at all).
    """
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    if checkpoint_meta:
        meta = checkpoint_meta if "keypoint_id2name" in checkpoint_meta else parse_pose_metainfo(checkpoint_meta)
        return _with_classes(meta, cfg)
    from_files = []
    for phase in PHASES:
        dataset = ((cfg.get(f"{phase}_dataloader") or {}).get("dataset")) or {}
        meta = _declared(dataset)
        if meta:
            return _with_classes(parse_pose_metainfo(meta), cfg)
        if dataset.get("type") is not None:
            from_files.append(f"{_type_name(dataset)} ({phase}_dataloader.dataset)")
    where = f": {from_files[0]} has no fixed metainfo" if from_files else ""
    raise ConfigError(f"{config}: no dataset metainfo in the checkpoint or the config's datasets{where}",
                      "use a checkpoint written by mmpx train or MMPose's tools/train.py (it carries "
                      "meta.dataset_meta), or set test_dataloader.dataset.metainfo=dict(from_file='metainfo.py')")


def _with_classes(meta: dict, cfg) -> dict:
    """``meta`` with the ``classes`` of a multi-class model: MMPose's parser drops them, so they come
    from the checkpoint's meta (``MultiClassCocoDataset`` puts them there) or else from the first metainfo file
    the config's datasets name, when its union is the model's keypoints."""
    if meta.get("classes") is not None:
        return meta
    from mmpx.errors import MmpxError
    from mmpx.metainfo import load_metainfo
    from mmpx.metainfo.classes import keypoint_classes

    id2name = meta.get("keypoint_id2name") or {}
    names = [id2name.get(i, id2name.get(str(i))) for i in range(int(meta.get("num_keypoints", len(id2name))))]
    for phase in PHASES:
        declared = (((cfg.get(f"{phase}_dataloader") or {}).get("dataset")) or {}).get("metainfo") or {}
        path = declared.get("from_file") if isinstance(declared, dict) else None
        if not path:
            continue
        try:
            info = load_metainfo(path)
        except MmpxError:  # a path mmpose resolves itself (a package's), or a file that is no plain literal
            continue
        classes = keypoint_classes(info, str(path))  # a malformed list is an error, not one class
        if classes and [n for c in classes for n in c.union_names] == names:
            meta = dict(meta, classes=[dict(id=c.id, name=c.name, keypoints=list(c.keypoints), start=c.start,
                                            stop=c.stop) for c in classes])
        return meta
    return meta


def _declared(dataset: dict) -> dict | None:
    """The metainfo a dataset config names: its own ``metainfo``, else its class's ``METAINFO``; None when it has
    none (a class that builds it from the files it loads)."""
    meta = dataset.get("metainfo")
    if not meta:
        from mmpose_ext.registry import DATASETS

        kind = dataset.get("type")
        cls = kind if isinstance(kind, type) else DATASETS.get(kind) if isinstance(kind, str) else None
        meta = getattr(cls, "METAINFO", None)
    meta = dict(meta) if meta else None
    return meta if meta and ("from_file" in meta or "dataset_name" in meta) else None


def _type_name(dataset: dict) -> str:
    kind = dataset.get("type")
    return kind.__name__ if isinstance(kind, type) else str(kind)
