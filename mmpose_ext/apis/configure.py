"""The config edits of ``mmpx train`` and ``mmpx test``: a loaded config in, the config the Runner is built from out.

:func:`configure_train` and :func:`configure_test` are pure: the config passed in is left as it was (a copy is
edited), nothing is written, no Runner is built and no global state changes. What the edits need to look up on
disk (the checkpoint ``--resume`` picks) is found by the caller, :mod:`mmpose_ext.apis.prepare`, which also runs
the checks. An option the config cannot take (``--auto-scale-lr`` without a base batch size, ``--dump
preds.json``, ``--show-dir`` without a visualization hook) is a :class:`~mmpx.errors.ConfigError`.
"""

from __future__ import annotations

import copy
import os.path as osp
from pathlib import Path

from mmpose_ext.apis.options import RunOptions
from mmpose_ext.apis.staged import staged
from mmpx.errors import ConfigError

SCOPE = "mmpose"  # mmpose-ext's hooks live in MMPose's registry; a detector config's default scope is mmdet


def work_dir_of(cfg, config, work_dir=None):
    """The run folder: ``work_dir``, else the config's own, else ``work_dirs/<config stem>`` (as MMPose's tools)."""
    if work_dir is not None:
        return str(work_dir)
    if cfg.get("work_dir") is not None:
        return cfg.work_dir
    return osp.join("work_dirs", Path(config).stem)


def resume_settings(options: RunOptions, found: str | None) -> tuple[bool, str | None]:
    """``(cfg.resume, cfg.load_from)`` for ``options.resume``: ``True``/``"auto"`` resumes from ``found``, the
    checkpoint picked in the work dir (None: nothing to resume, training starts from scratch); a path is resumed
    from as given; ``load_from`` given too is the weights loaded."""
    resume, load_from = True, str(options.resume)
    if options.resume in (True, "auto"):
        resume, load_from = found is not None, found
    return resume, str(options.load_from) if options.load_from else load_from


def configure_train(cfg, options: RunOptions, config="the config", found: str | None = None):
    """``cfg`` as :func:`~mmpose_ext.apis.train` runs it: ``options`` applied, mmpx's hooks added.

    Args:
        cfg: the loaded config (left unchanged).
        options: the options; ``progress`` None adds no progress bar (the caller asks the terminal).
        config: the config's name, for messages.
        found: with ``options.resume`` True or ``"auto"``, the checkpoint picked in the work dir
            (:func:`~mmpose_ext.apis.resume.latest_good_checkpoint`).
    """
    from mmpose_ext.engine.atomic_checkpoint import use_atomic_checkpoints

    o = options
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir_of(cfg, config, o.work_dir)
    if o.resume:
        cfg.resume, cfg.load_from = resume_settings(o, found)
    _train_options(cfg, config, o, None if o.resume else o.load_from)
    if o.vis:
        from mmpose_ext.apis.vis_backends import add_vis_backends

        add_vis_backends(cfg, o.vis)
    if o.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    use_atomic_checkpoints(cfg)  # a run killed while saving leaves the previous checkpoint whole
    cfg.custom_hooks = _train_hooks(cfg, bool(o.progress))
    return cfg


def _train_options(cfg, config, o: RunOptions, load_from) -> None:
    """The options of ``mmpx train`` beyond MMPose's own ``--resume``/``--amp`` (see docs/guides/training.md)."""
    if o.seed is not None or o.deterministic:
        cfg.randomness = dict(cfg.get("randomness") or {}, seed=o.seed, deterministic=o.deterministic)
    if o.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if o.auto_scale_lr:
        if not (cfg.get("auto_scale_lr") or {}).get("base_batch_size"):
            raise ConfigError(
                f"--auto-scale-lr: config {config} has no auto_scale_lr.base_batch_size",
                "add auto_scale_lr = dict(base_batch_size=N), N the total batch size its learning rate is for",
            )
        cfg.auto_scale_lr.enable = True
    cfg.launcher = o.launcher
    hooks = [dict(type="PartialLoadHook", checkpoint=str(load_from), _scope_=SCOPE)] if load_from else []
    if load_from:
        cfg.load_from = None  # the hook loads it, after the runner's weight init
    if o.freeze:
        hooks.append(dict(type="FreezeHook", patterns=list(o.freeze), _scope_=SCOPE))
        if o.launcher != "none":  # DDP is built before the hook freezes: let it tolerate params without grads
            cfg.setdefault("model_wrapper_cfg", dict(type="MMDistributedDataParallel", find_unused_parameters=True))
    if hooks:
        cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), *hooks]


def _train_hooks(cfg, progress: bool) -> list:
    """``cfg.custom_hooks`` with mmpx's training hooks, each unless the config has it already."""
    from mmpose_ext.engine.report_hook import add_report_hook

    hooks = list(cfg.get("custom_hooks") or [])
    if not _has(hooks, "PlotHook"):
        hooks.append(dict(type="PlotHook", _scope_=SCOPE))  # loss.png, val.png at the end
    hooks = add_report_hook(hooks)  # each validation's predictions, report.html at the end
    # a pose evaluator that computes nothing is misconfigured; mmdet's CocoMetric returns nothing while an early
    # detector finds no box, which is no error
    pose = cfg.get("default_scope") != "mmdet"
    if pose and cfg.get("val_evaluator") and not _has(hooks, "MetricCheckHook"):
        hooks.append(dict(type="MetricCheckHook", _scope_=SCOPE))  # an evaluator computing nothing stops at once
    if progress and not _has(hooks, "ProgressHook"):
        hooks.append(dict(type="ProgressHook", _scope_=SCOPE))  # a bar on a terminal, plain lines elsewhere
    return hooks


def _has(hooks: list, kind: str) -> bool:
    return any(h.get("type") == kind for h in hooks)


def configure_test(cfg, checkpoint, options: RunOptions, config="the config"):
    """``cfg`` as :func:`~mmpose_ext.apis.test` runs it on ``checkpoint``: ``dump`` and ``show_dir`` pointing at
    their staged places (:mod:`mmpose_ext.apis.staged`), mmpx's test hooks added; ``cfg`` is left unchanged."""
    from mmpose_ext.engine.report_hook import add_report_hook

    o = options
    cfg = copy.deepcopy(cfg)
    cfg.work_dir = work_dir_of(cfg, config, o.work_dir)
    cfg.load_from = str(checkpoint)
    cfg.launcher = o.launcher
    if o.dump is not None:
        _dump(cfg, Path(o.dump))
    if o.show_dir is not None:
        _show_dir(cfg, config, Path(o.show_dir))
    hooks = list(cfg.get("custom_hooks") or [])
    if cfg.get("default_scope") != "mmdet" and not _has(hooks, "MetricCheckHook"):
        # else {} printed and exit 0 (a detector's CocoMetric may rightly return nothing: see _train_hooks)
        hooks.append(dict(type="MetricCheckHook", _scope_=SCOPE))
    cfg.custom_hooks = add_report_hook(hooks)  # the test's predictions, report.html at the end
    return cfg


def _dump(cfg, dump: Path) -> None:
    """``--dump``: every prediction to a pickle, through mmengine's ``DumpResults`` as MMPose's ``--dump``."""
    if dump.suffix not in (".pkl", ".pickle"):
        raise ConfigError(f"--dump {dump}: the file must end in .pkl or .pickle", f"e.g. --dump {dump.stem}.pkl")
    if dump.is_dir():
        raise ConfigError(f"--dump {dump} is a folder", "give a file name, e.g. --dump preds.pkl")
    evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
    cfg.test_evaluator = [*evaluators, dict(type="DumpResults", out_file_path=str(staged(dump)))]


def _show_dir(cfg, config, show_dir: Path) -> None:
    """``--show-dir``: one picture per test image, every instance drawn (MMPose's hook writes one per instance)."""
    if show_dir.exists() and not show_dir.is_dir():
        raise ConfigError(f"--show-dir {show_dir} exists and is not a folder", "give a folder path")
    vis = (cfg.get("default_hooks") or {}).get("visualization")
    if vis is None:
        raise ConfigError(
            f"--show-dir: config {config} has no default_hooks.visualization",
            "add default_hooks = dict(visualization=dict(type='PoseVisualizationHook', enable=False)) "
            "(MMPose's default_runtime.py has it)",
        )
    # absolute: PoseVisualizationHook re-joins work_dir/timestamp/out_dir on every test iteration, which nests a
    # relative folder one level deeper per batch; an absolute one survives the join unchanged
    vis.update(enable=True, out_dir=str(staged(show_dir).resolve()), interval=1, show=False)
    if cfg.get("default_scope") != "mmdet":  # a detector's samples are whole images already
        vis.update(type="PerImageVisualizationHook", _scope_=SCOPE)


__all__ = ["SCOPE", "configure_test", "configure_train", "resume_settings", "work_dir_of"]
