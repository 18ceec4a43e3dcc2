"""The config :func:`~mmpose_ext.apis.train` and :func:`~mmpose_ext.apis.test` run: loaded, checked and configured
before anything is written.

:func:`train_config` and :func:`test_config` load the config (plugins registered, ``--cfg-options`` applied),
refuse what cannot run (missing keys, a bad ``init_cfg``, a training of no length, outputs over the data), pick
the checkpoint to resume from, apply the options (:mod:`mmpose_ext.apis.configure`), then read the checkpoints
and run preflight (:func:`check_config`). ``mmpx train --nproc`` calls them once, before any process starts.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from mmpose_ext.apis.configure import configure_test, configure_train, resume_settings, work_dir_of
from mmpose_ext.apis.guard import check_run_outputs
from mmpose_ext.apis.options import RunOptions
from mmpose_ext.compat import checkpoint as safe_checkpoint
from mmpose_ext.config import load_config
from mmpose_ext.models.checkpoint_fit import read_checkpoint
from mmpx.errors import ConfigError

TRAIN_KEYS = ("model", "train_dataloader", "train_cfg", "optim_wrapper")
TEST_KEYS = ("model", "test_dataloader", "test_evaluator", "test_cfg")


def train_config(config: str | Path, options: RunOptions | None = None, **changes):
    """The config :func:`~mmpose_ext.apis.train` runs, checked (``preflight``) but not run; options as for it."""
    o = RunOptions.of(options, **changes)
    if o.progress is None:
        o = replace(o, progress=sys.stderr.isatty())
    loaded = load_runnable(config, o.cfg_options, TRAIN_KEYS)
    work_dir = work_dir_of(loaded, config, o.work_dir)
    found = None
    if o.resume in (True, "auto"):  # the newest intact checkpoint: a run killed while saving leaves a bad one
        from mmpose_ext.apis.resume import latest_good_checkpoint

        found = latest_good_checkpoint(work_dir)
    _check_length(loaded, config)
    # before anything is written: the work dir against the config's data and the checkpoint it starts from
    start = resume_settings(o, found)[1] if o.resume else loaded.get("load_from")
    check_run_outputs(loaded, config, {"--work-dir": work_dir, **(o.outputs or {})}, load_from=start)
    cfg = configure_train(loaded, o, config, found)
    if o.trust_checkpoint:
        safe_checkpoint.trust(*[str(t) for t in (cfg.get("load_from"), o.load_from) if t])
    if o.preflight:
        if o.load_from and not Path(o.load_from).is_file():
            raise ConfigError(f"--load-from: checkpoint {o.load_from} does not exist", "fix the path")
        check_config(cfg, config)
    for path in (cfg.get("load_from") if cfg.get("resume") else None, o.load_from):
        if path and "://" not in str(path) and Path(path).is_file():
            read_checkpoint(path)  # damaged or not a checkpoint: said now, before the runner writes its log folder
    return cfg


def test_config(config: str | Path, checkpoint: str | Path, options: RunOptions | None = None, **changes):
    """The config :func:`~mmpose_ext.apis.test` runs (``dump``/``show_dir`` pointing at their staged places),
    checked."""
    o = RunOptions.of(options, **changes)
    loaded = load_runnable(config, o.cfg_options, TEST_KEYS)
    if o.trust_checkpoint and checkpoint:
        safe_checkpoint.trust(str(checkpoint))
    if not Path(checkpoint).is_file():
        raise ConfigError(f"checkpoint {checkpoint} does not exist", "give the path of a .pth file (see the work dir)")
    read_checkpoint(checkpoint)  # a damaged file is named now, before the runner writes its log folder
    outputs = {"--work-dir": work_dir_of(loaded, config, o.work_dir), "--dump": o.dump, "--show-dir": o.show_dir}
    check_run_outputs(loaded, config, {**outputs, **(o.outputs or {})}, checkpoint=checkpoint)
    cfg = configure_test(loaded, checkpoint, o, config)
    if o.preflight:
        check_config(cfg, config, ("test",))  # a test needs no training data
    return cfg


def load_runnable(config, cfg_options, required):
    """:func:`~mmpose_ext.config.load_config`, refusing a config without the ``required`` keys or with an
    ``init_cfg`` mmengine would fail on after the run folder was made."""
    cfg = load_config(config, cfg_options)  # registers the plugins' classes too
    missing = [key for key in required if key not in cfg]
    if missing:  # mmengine would fail with KeyError: 'model', or a RuntimeError about its loops
        raise ConfigError(f"config {config} defines no {', '.join(missing)}: it cannot be "
                          f"{'trained' if required == TRAIN_KEYS else 'tested'}",
                          "a runnable config defines model, dataloaders, loops and evaluators, usually by inheriting "
                          "_base_ = ['mmpose::_base_/default_runtime.py'] (see MMPose's configs/body_2d_keypoint/)")
    _check_init_cfgs(cfg.get("model"), "model")
    return cfg


def _check_init_cfgs(node, where: str) -> None:
    """Every ``init_cfg`` in the model is None, a dict with a ``type`` or a list of them: mmengine would fail deep
    in ``init_weights`` (``'int' object is not iterable``) after the run folder was made."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "init_cfg" and value is not None:
                _check_init_cfg(value, where)
            else:
                _check_init_cfgs(value, f"{where}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_init_cfgs(item, f"{where}[{i}]")


def _check_init_cfg(value, where: str) -> None:
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items or not all(isinstance(i, dict) and isinstance(i.get("type"), str) for i in items):
        raise ConfigError(f"{where}.init_cfg = {value!r}: expected None, a dict with a type "
                          "(dict(type='Pretrained', checkpoint=...)) or a list of them",
                          "fix it in the config or in --cfg-options")
    for item in items:
        ckpt = item.get("checkpoint")
        if isinstance(ckpt, str) and "://" not in ckpt and not Path(ckpt).is_file():
            raise ConfigError(f"{where}.init_cfg: checkpoint {ckpt} does not exist",
                              "give the path of a local .pth file, or init_cfg=None to start from random weights")


def check_config(cfg, config, phases=("train", "val")) -> None:
    """Run :func:`~mmpose_ext.apis.preflight.preflight` for ``phases``; print its warnings and every error, and raise
    the first error as ConfigError."""
    from mmpose_ext.apis.preflight import preflight
    from mmpx.errors.problems import ERROR, print_table

    found = preflight(cfg, config, phases)
    errors = [p for p in found if p.severity == ERROR]
    notes = [p for p in found if p.severity != ERROR]  # e.g. unlabelled instances of a whole-image dataset
    if notes:
        from rich.console import Console

        print_table(notes, f"preflight notes: {config}", console=Console(stderr=True))
    if not errors:
        return
    if len(errors) > 1:
        from rich.console import Console

        print_table(errors, f"preflight: {config}", console=Console(stderr=True))
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s), listed above)" if len(errors) > 1 else ""
    raise ConfigError(f"{first.where}: {first.message}{more}", first.hint or "fix the config or the data")


def _check_length(cfg, config) -> None:
    """``max_epochs``/``max_iters`` below 1 would train nothing and still exit 0."""
    for key in ("max_epochs", "max_iters"):
        value = (cfg.get("train_cfg") or {}).get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ConfigError(f"train_cfg.{key} is {value!r} in {config}: nothing would be trained",
                              f"set a positive whole number, e.g. --cfg-options train_cfg.{key}=10")


__all__ = ["TEST_KEYS", "TRAIN_KEYS", "check_config", "load_runnable", "test_config", "train_config"]
