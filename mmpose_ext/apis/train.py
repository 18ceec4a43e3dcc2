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


def train(
    config: str | Path,
    work_dir: str | Path | None = None,
    resume: str | bool | None = None,
    load_from: str | Path | None = None,
    amp: bool = False,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
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
    """
    cfg = _prepare(config, work_dir, cfg_options, False, [])
    if resume:
        cfg.resume = True
        cfg.load_from = None if resume in (True, "auto") else str(resume)
    if load_from:
        cfg.load_from = str(load_from)
    if amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    if trust_checkpoint:
        targets = [cfg.get("load_from")]
        if resume in (True, "auto"):
            from mmengine.runner import find_latest_checkpoint

            targets.append(find_latest_checkpoint(cfg.work_dir))
        safe_checkpoint.trust(*[str(t) for t in targets if t])
    runner = _runner(cfg)
    runner.train()
    return runner


def test(
    config: str | Path,
    checkpoint: str | Path,
    work_dir: str | Path | None = None,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
) -> dict:
    """Evaluate ``checkpoint`` on the config's test set; returns the metrics dict."""
    cfg = _prepare(config, work_dir, cfg_options, trust_checkpoint, [checkpoint])
    cfg.load_from = str(checkpoint)
    return _runner(cfg).test()
