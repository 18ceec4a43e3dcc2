"""Train and test a config with mmengine's Runner, as MMPose's ``tools/train.py`` and ``tools/test.py`` do.

Plugins' registry classes are registered first, so a config can name a plugin backbone without
``custom_imports``. Errors a user can fix (missing config, bad override, untrusted checkpoint) are raised as
:class:`mmpx.errors.MmpxError`.
"""

from __future__ import annotations

import os.path as osp
import sys
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

    from mmpose_ext.apis.launch import init_cpu_process_group

    init_cpu_process_group(cfg)  # a CPU run under torchrun/srun: mmengine's init_dist would need CUDA

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


def train_config(
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
    progress: bool | None = None,
):
    """The config :func:`train` runs, checked (``preflight``) but not run; arguments as for :func:`train`."""
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
    hooks = list(cfg.get("custom_hooks") or [])
    if not any(h.get("type") == "PlotHook" for h in hooks):
        hooks.append(dict(type="PlotHook"))  # loss.png, val.png at the end
    if progress is None:
        progress = sys.stderr.isatty()
    if progress and not any(h.get("type") == "ProgressHook" for h in hooks):
        hooks.append(dict(type="ProgressHook"))  # a bar on a terminal, plain lines elsewhere; rank 0 only
    cfg.custom_hooks = hooks
    return cfg


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
    device: str | None = None,
    progress: bool | None = None,
    master_port: int | None = None,
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
        launcher: ``none``, ``pytorch`` or ``slurm`` (``mpi`` on GPUs only): this process is one of several
            started by torchrun / srun. ``mmpx train --nproc N`` starts them for you.
        freeze: :class:`~mmpose_ext.engine.FreezeHook` patterns (``backbone``, ``backbone:2``, globs).
        preflight: check files, metainfo, annotations and head/keypoint agreement before building anything.
        device: ``cpu`` or ``cuda``; default cuda when available. See :func:`~mmpose_ext.apis.launch.use_device`
            (from Python, prefer ``CUDA_VISIBLE_DEVICES=''`` before importing torch for a CPU run on a GPU host).
        progress: add :class:`~mmpose_ext.engine.ProgressHook`; default: when stderr is a terminal.
        master_port: with ``launcher='slurm'``, the rendezvous port (``MASTER_PORT``, default 29500).

    Without ``resume``, ``load_from`` goes through :class:`~mmpose_ext.engine.PartialLoadHook`: every tensor
    whose name and shape match is loaded and the others are reported (fine-tuning across keypoint counts).
    """
    from mmpose_ext.apis.launch import setup_distributed, use_device

    device = use_device(device)
    cfg = train_config(
        config, work_dir=work_dir, resume=resume, load_from=load_from, amp=amp, cfg_options=cfg_options,
        trust_checkpoint=trust_checkpoint, seed=seed, deterministic=deterministic, no_validate=no_validate,
        auto_scale_lr=auto_scale_lr, launcher=launcher, freeze=freeze, preflight=preflight, progress=progress,
    )  # fmt: skip
    setup_distributed(cfg, launcher, device, master_port)
    runner = _runner(cfg)
    runner.train()
    return runner


def test_config(
    config: str | Path,
    checkpoint: str | Path,
    work_dir: str | Path | None = None,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
    preflight: bool = True,
    dump: str | Path | None = None,
    show_dir: str | Path | None = None,
    launcher: str = "none",
):
    """The config :func:`test` runs (``dump``/``show_dir`` pointing at their temporary places), checked."""
    cfg = _prepare(config, work_dir, cfg_options, trust_checkpoint, [checkpoint])
    if not Path(checkpoint).is_file():
        raise ConfigError(f"checkpoint {checkpoint} does not exist", "give the path of a .pth file (see the work dir)")
    cfg.load_from = str(checkpoint)
    cfg.launcher = launcher
    if dump is not None:
        dump = Path(dump)
        if dump.suffix not in (".pkl", ".pickle"):
            raise ConfigError(f"--dump {dump}: the file must end in .pkl or .pickle", f"e.g. --dump {dump.stem}.pkl")
        if dump.is_dir():
            raise ConfigError(f"--dump {dump} is a folder", "give a file name, e.g. --dump preds.pkl")
        partial = str(_partial(dump))
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type="DumpResults", out_file_path=partial)]  # as MMPose --dump
    if show_dir is not None:
        show_dir = Path(show_dir)
        if show_dir.exists() and not show_dir.is_dir():
            raise ConfigError(f"--show-dir {show_dir} exists and is not a folder", "give a folder path")
        vis = (cfg.get("default_hooks") or {}).get("visualization")
        if vis is None:
            raise ConfigError(
                f"--show-dir: config {config} has no default_hooks.visualization",
                "add default_hooks = dict(visualization=dict(type='PoseVisualizationHook', enable=False)) "
                "(MMPose's default_runtime.py has it)",
            )
        # absolute: PoseVisualizationHook re-joins work_dir/timestamp/out_dir on every test iteration, which
        # nests a relative folder one level deeper per batch; an absolute one survives the join unchanged
        vis.update(enable=True, out_dir=str(_partial(show_dir).resolve()), interval=1, show=False)
    if preflight:
        check_config(cfg, config)
    return cfg


def _partial(path: Path) -> Path:
    """Where an output is written before it is moved into place (same folder, so the move is atomic)."""
    return path.with_name(f".{path.stem}.partial{path.suffix}")


def _publish_outputs(dump: Path | None, show_dir: Path | None) -> None:
    """Move finished outputs into place (rank 0, after the test loop synchronised every rank)."""
    import os

    if dump is not None:
        dump.parent.mkdir(parents=True, exist_ok=True)
        os.replace(_partial(dump), dump)
    if show_dir is not None:
        partial = _partial(show_dir)
        show_dir.mkdir(parents=True, exist_ok=True)
        for name in sorted(os.listdir(partial)) if partial.is_dir() else []:
            os.replace(partial / name, show_dir / name)
        if partial.is_dir():
            partial.rmdir()


def _clear_partial(dump: Path | None, show_dir: Path | None) -> None:
    import shutil

    if dump is not None:
        _partial(dump).unlink(missing_ok=True)
    if show_dir is not None:
        shutil.rmtree(_partial(show_dir), ignore_errors=True)


def _draw_on_every_rank(runner) -> None:
    """Let every process draw its share of the test images (``--show-dir`` with ``--nproc``).

    mmengine's visualizer methods (``add_datasample``, ``set_image``, ``draw_*``) are ``@master_only``, so with N
    processes MMPose's ``--show-dir`` draws only rank 0's 1/N of the images. ``master_only`` asks
    ``mmengine.dist.utils.is_main_process`` at each call; during the visualization hook's ``after_test_iter``
    (and only then) it answers yes on every rank. Each image goes to its own file, so the ranks do not collide.
    """
    import mmengine.dist.utils as dist_utils

    if not runner.distributed:
        return
    for hook in runner.hooks:
        if type(hook).__name__ == "PoseVisualizationHook":
            draw = hook.after_test_iter

            def after_test_iter(*args, _draw=draw, **kwargs):
                original = dist_utils.is_main_process
                dist_utils.is_main_process = lambda group=None: True
                try:
                    return _draw(*args, **kwargs)
                finally:
                    dist_utils.is_main_process = original

            hook.after_test_iter = after_test_iter


def test(
    config: str | Path,
    checkpoint: str | Path,
    work_dir: str | Path | None = None,
    cfg_options: list[str] | None = None,
    trust_checkpoint: bool = False,
    preflight: bool = True,
    dump: str | Path | None = None,
    show_dir: str | Path | None = None,
    device: str | None = None,
    launcher: str = "none",
    master_port: int | None = None,
) -> dict:
    """Evaluate ``checkpoint`` on the config's test set; returns the metrics dict (on every rank).

    Args:
        dump: write every prediction (a list of dicts, one per sample: ``pred_instances.keypoints`` ...) to this
            pickle, through mmengine's ``DumpResults`` evaluator as MMPose's ``tools/test.py --dump``.
        show_dir: draw the predictions on every test image into this folder (MMPose's ``PoseVisualizationHook``).
        device, launcher, master_port: as for :func:`train`.

    Both outputs appear only when the test finished: they are written beside their place and moved into it.
    """
    import os

    from mmpose_ext.apis.launch import setup_distributed, use_device

    device = use_device(device)
    dump = Path(dump) if dump is not None else None
    show_dir = Path(show_dir).resolve() if show_dir is not None else None
    cfg = test_config(config, checkpoint, work_dir, cfg_options, trust_checkpoint, preflight, dump, show_dir, launcher)
    main = os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) == "0"
    if main:  # before the rendezvous, so no other rank has drawn yet
        _clear_partial(dump, show_dir)
        if dump is not None:
            dump.parent.mkdir(parents=True, exist_ok=True)
    setup_distributed(cfg, launcher, device, master_port)
    try:
        runner = _runner(cfg)
        if show_dir is not None:
            _draw_on_every_rank(runner)
        metrics = runner.test()
    except BaseException:
        if main:
            _clear_partial(dump, show_dir)
        raise
    if main:
        _publish_outputs(dump, show_dir)
    return metrics
