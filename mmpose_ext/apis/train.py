"""Train and test a config with mmengine's Runner, as MMPose's ``tools/train.py`` and ``tools/test.py`` do.

Plugins' registry classes are registered first, so a config can name a plugin backbone without
``custom_imports``. Errors a user can fix (missing config, bad override, untrusted checkpoint) are raised as
:class:`mmpx.errors.MmpxError`.
"""

from __future__ import annotations

import os.path as osp
from pathlib import Path

from mmpose_ext.compat import checkpoint as safe_checkpoint
from mmpx.errors import ConfigError


def parse_cfg_options(options: list[str] | None) -> dict:
    """``KEY=VALUE`` strings to a dict, with values parsed as mmengine's ``--cfg-options`` parses them."""
    from mmengine.config import DictAction

    parsed = {}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"--cfg-options {option!r} is not KEY=VALUE", "e.g. --cfg-options train_cfg.max_epochs=2"
            )
        parsed[key] = DictAction._parse_iterable(value)
    return parsed


def load_config(config: str | Path, cfg_options: list[str] | None = None):
    """Load a config file (it may inherit ``mmpose::`` bases) and apply overrides.

    Raises:
        ConfigError: the file is missing or does not load, naming the file and the reason.
    """
    from mmengine.config import Config

    path = Path(config)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist", "check the path (configs are .py files)")
    try:
        cfg = Config.fromfile(str(path))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError(
            f"config {path} could not be loaded: {type(exc).__name__}: {first}",
            "fix that line of the config; `python CONFIG` shows plain syntax errors",
        ) from exc
    overrides = parse_cfg_options(cfg_options)
    if overrides:
        cfg.merge_from_dict(overrides)
    return cfg


def _runner(cfg):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    return Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)


def _prepare(config, work_dir, cfg_options, trust_checkpoint, checkpoints):
    import mmpose_ext  # noqa: F401  (compatibility fixes, our registries)
    from mmpx.plugins.manager import get_host

    get_host().register_modules()
    cfg = load_config(config, cfg_options)
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", Path(config).stem)
    if trust_checkpoint:
        safe_checkpoint.trust(*[str(c) for c in checkpoints if c])
    return cfg


def check_config(cfg, config) -> None:
    """Run :func:`~mmpose_ext.apis.preflight.preflight`; print every error and raise the first as ConfigError."""
    from mmpose_ext.apis.preflight import preflight
    from mmpx.problems import ERROR, print_table

    errors = [p for p in preflight(cfg, config) if p.severity == ERROR]
    if not errors:
        return
    if len(errors) > 1:
        from rich.console import Console

        print_table(errors, f"preflight: {config}", console=Console(stderr=True))
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s), listed above)" if len(errors) > 1 else ""
    raise ConfigError(f"{first.where}: {first.message}{more}", first.hint or "fix the config or the data")


def _apply_train_options(cfg, config, load_from, launcher, freeze, seed, deterministic, no_validate, auto_scale_lr):
    """The options of ``mmpx train`` beyond MMPose's own ``--resume``/``--amp`` (see docs/training.md)."""
    import os

    if seed is not None or deterministic:
        cfg.randomness = dict(cfg.get("randomness") or {}, seed=seed, deterministic=deterministic)
        if deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic CUDA matmuls need
    if no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if auto_scale_lr:
        if not (cfg.get("auto_scale_lr") or {}).get("base_batch_size"):
            raise ConfigError(
                f"--auto-scale-lr: config {config} has no auto_scale_lr.base_batch_size",
                "add auto_scale_lr = dict(base_batch_size=N), N the total batch size its learning rate is for",
            )
        cfg.auto_scale_lr.enable = True
    cfg.launcher = launcher
    hooks = [dict(type="PartialLoadHook", checkpoint=str(load_from))] if load_from else []
    if load_from:
        cfg.load_from = None  # the hook loads it, after the runner's weight init
    if freeze:
        hooks.append(dict(type="FreezeHook", patterns=list(freeze)))
        if launcher != "none":  # DDP is built before the hook freezes: let it tolerate params without grads
            cfg.setdefault("model_wrapper_cfg", dict(type="MMDistributedDataParallel", find_unused_parameters=True))
    if hooks:
        cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), *hooks]


def train(
    config: str | Path,
    work_dir: str | Path | None = None,
    resume: str | bool | None = None,
    load_from: str | Path | None = None,
    amp: bool = False,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
    seed: int | None = None,
    deterministic: bool = False,
    no_validate: bool = False,
    auto_scale_lr: bool = False,
    launcher: str = "none",
    freeze: list[str] | None = None,
    preflight: bool = True,
):
    """Train ``config``; returns the mmengine Runner after training.

    Args:
        config: config file path.
        work_dir: run folder; default ``work_dirs/<config stem>`` (as MMPose's tools).
        resume: ``True``/``"auto"`` resumes from the latest checkpoint in ``work_dir``; a path resumes from it.
        load_from: initial weights (not optimizer state).
        amp: mixed precision (``AmpOptimWrapper``).
        cfg_options: ``KEY=VALUE`` overrides.
        trust_checkpoint: load ``resume``/``load_from`` without the safe-load allow-list.
        seed, deterministic: ``cfg.randomness`` (mmengine's ``set_randomness``).
        no_validate: no validation during training (as MMPose's ``tools/train.py --no-validate``).
        auto_scale_lr: scale the learning rate by batch size / ``auto_scale_lr.base_batch_size``.
        launcher: ``none``, ``pytorch``, ``slurm`` or ``mpi``.
        freeze: :class:`~mmpose_ext.engine.FreezeHook` patterns (``backbone``, ``backbone:2``, globs).
        preflight: check files, metainfo, annotations and head/keypoint agreement before building anything.

    Without ``resume``, ``load_from`` goes through :class:`~mmpose_ext.engine.PartialLoadHook`: every tensor
    whose name and shape match is loaded and the others are reported (fine-tuning across keypoint counts).
    """
    cfg = _prepare(config, work_dir, cfg_options, False, [])
    if resume:
        cfg.resume = True
        if resume in (True, "auto"):  # the newest intact checkpoint: a run killed while saving leaves a bad one
            from mmpose_ext.apis.resume import latest_good_checkpoint

            cfg.load_from = latest_good_checkpoint(cfg.work_dir)
        else:
            cfg.load_from = str(resume)
    if load_from and resume:
        cfg.load_from = str(load_from)
    options = dict(seed=seed, deterministic=deterministic, no_validate=no_validate, auto_scale_lr=auto_scale_lr)
    _apply_train_options(cfg, config, None if resume else load_from, launcher, freeze, **options)
    if amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    if trust_checkpoint:
        safe_checkpoint.trust(*[str(t) for t in (cfg.get("load_from"), load_from) if t])
    if preflight:
        if load_from and not Path(load_from).is_file():
            raise ConfigError(f"--load-from: checkpoint {load_from} does not exist", "fix the path")
        check_config(cfg, config)
    if not any(h.get("type") == "PlotHook" for h in cfg.get("custom_hooks") or []):
        cfg.custom_hooks = [*(cfg.get("custom_hooks") or []), dict(type="PlotHook")]  # loss.png, val.png at the end
    runner = _runner(cfg)
    runner.train()
    return runner


def test(
    config: str | Path,
    checkpoint: str | Path,
    work_dir: str | Path | None = None,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
    preflight: bool = True,
) -> dict:
    """Evaluate ``checkpoint`` on the config's test set; returns the metrics dict."""
    cfg = _prepare(config, work_dir, cfg_options, trust_checkpoint, [checkpoint])
    cfg.load_from = str(checkpoint)
    if preflight:
        check_config(cfg, config)
    return _runner(cfg).test()
