"""Train and test a config with mmengine's Runner, as MMPose's ``tools/train.py`` and ``tools/test.py`` do.

Plugins' registry classes are registered first, so a config can name a plugin backbone without
``custom_imports``. Errors a user can fix (missing config, bad override, untrusted checkpoint) are raised as
:class:`mmpx.errors.MmpxError`.
"""

from __future__ import annotations

import contextlib
import os.path as osp
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path

from mmpose_ext.apis.fit import read_checkpoint
from mmpose_ext.apis.guard import check_run_outputs
from mmpose_ext.compat import checkpoint as safe_checkpoint
from mmpose_ext.config import load_config
from mmpx.errors import ConfigError


@dataclass(frozen=True)
class RunOptions:
    """The options of :func:`train` and :func:`test` (``mmpx train`` / ``mmpx test``), in one place.

    Shared:
        work_dir: run folder; default ``work_dirs/<config stem>`` (as MMPose's tools).
        cfg_options: ``KEY=VALUE`` overrides.
        trust_checkpoint: load the named checkpoint(s) without the safe-load allow-list.
        preflight: check files, metainfo, annotations and head/keypoint agreement before building anything.
        device: ``cpu`` or ``cuda``; default cuda when available. See :func:`~mmpose_ext.apis.launch.use_device`
            (from Python, prefer ``CUDA_VISIBLE_DEVICES=''`` before importing torch for a CPU run on a GPU host).
        launcher: ``none``, ``pytorch`` or ``slurm`` (``mpi`` on GPUs only): this process is one of several
            started by torchrun / srun. ``mmpx train --nproc N`` starts them for you.
        master_port: with ``launcher='slurm'``, the rendezvous port (``MASTER_PORT``, default 29500).

    Training only:
        resume: ``True``/``"auto"`` resumes from the latest checkpoint in ``work_dir``; a path resumes from it.
        load_from: initial weights (not optimizer state), through :class:`~mmpose_ext.engine.PartialLoadHook`.
        amp: mixed precision (``AmpOptimWrapper``).
        seed, deterministic: ``cfg.randomness`` (mmengine's ``set_randomness``).
        no_validate: no validation during training (as MMPose's ``tools/train.py --no-validate``).
        auto_scale_lr: scale the learning rate by batch size / ``auto_scale_lr.base_batch_size``.
        freeze: :class:`~mmpose_ext.engine.FreezeHook` patterns (``backbone``, ``backbone:2``, globs).
        progress: add :class:`~mmpose_ext.engine.ProgressHook`; default: when stderr is a terminal.
        vis: mmengine visualisation backends to add (``tensorboard``, ``wandb``, ``mlflow``); the local
            ``scalars.json`` is always written.

    Testing only:
        dump: write every prediction to this pickle (MMPose's ``tools/test.py --dump``).
        show_dir: draw the predictions on every test image into this folder.
        outputs: other paths the caller will write (option -> path, e.g. ``{"--out": "metrics.json"}``), checked
            with the others against what the config reads before the run starts.
    """

    work_dir: str | Path | None = None
    cfg_options: list[str] | None = None
    trust_checkpoint: bool = False
    preflight: bool = True
    device: str | None = None
    launcher: str = "none"
    master_port: int | None = None
    resume: str | bool | None = None
    load_from: str | Path | None = None
    amp: bool = False
    seed: int | None = None
    deterministic: bool = False
    no_validate: bool = False
    auto_scale_lr: bool = False
    freeze: list[str] | None = None
    progress: bool | None = None
    vis: list[str] | None = None
    dump: str | Path | None = None
    show_dir: str | Path | None = None
    outputs: dict | None = None

    @classmethod
    def of(cls, options: RunOptions | None = None, **changes) -> RunOptions:
        """``options`` (default: all defaults) with ``changes``; an unknown name is a TypeError naming it."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise TypeError(f"unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return replace(options or cls(), **changes)


def _runner(cfg, quiet_console: bool = False):
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmpose_ext.apis.launch import init_cpu_process_group

    init_cpu_process_group(cfg)  # a CPU run under torchrun/srun: mmengine's init_dist would need CUDA
    with _console_warnings_only(Runner, quiet_console), _no_config_copy_over_itself(Runner):
        return Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)


@contextlib.contextmanager
def _no_config_copy_over_itself(runner_cls):
    """mmengine's Runner copies the config to ``work_dir/<config file name>``: for a config that lives there (the
    copy of an earlier run, or the user's own file in its work dir) that would rewrite the user's file with
    mmengine's reformatted dump. Then the copy is the file itself, so nothing is written."""
    import os.path as osp

    dump = runner_cls.dump_config

    def dump_config(self) -> None:
        source = self.cfg.filename
        target = osp.join(self.work_dir, osp.basename(source)) if source else None
        if target and osp.exists(target) and osp.exists(source) and osp.samefile(source, target):
            return
        dump(self)

    runner_cls.dump_config = dump_config
    try:
        yield
    finally:
        runner_cls.dump_config = dump


class _LogFileWriter:
    """A ``sys.stdout`` stand-in that writes to the run's log file(s) only."""

    def __init__(self, handlers) -> None:
        self.handlers = handlers

    def write(self, text: str) -> int:
        for handler in self.handlers:
            with contextlib.suppress(Exception):  # a closed or failing log file must not stop training
                handler.acquire()
                try:
                    handler.stream.write(text)
                finally:
                    handler.release()
        return len(text)

    def flush(self) -> None:
        for handler in self.handlers:
            with contextlib.suppress(Exception):
                handler.flush()


@contextlib.contextmanager
def _prints_to_log_file(runner, enabled: bool):
    """Under the progress bar, what libraries ``print`` (xtcocotools' "loading annotations into memory...", COCO
    evaluation tables) goes to the log file instead of the terminal; the logger's own handlers are unaffected."""
    import logging

    if not enabled:
        yield
        return
    files = [h for h in runner.logger.handlers if isinstance(h, logging.FileHandler)]
    with contextlib.redirect_stdout(_LogFileWriter(files)):
        yield


# mmengine's own deprecation notices, printed at WARNING on every start; nothing a user can act on (log file: kept)
_NOISE = ('"FileClient" will be deprecated', '"HardDiskBackend" is the alias')


def _not_noise(record) -> bool:
    message = record.getMessage()
    return not any(text in message for text in _NOISE)


@contextlib.contextmanager
def _console_warnings_only(runner_cls, enabled: bool):
    """While the Runner is built, its logger's console handlers start at WARNING: the environment and the whole
    config (hundreds of lines) then go to the log file only, and a terminal shows ProgressHook's short header."""
    if not enabled:
        yield
        return
    import logging

    build = runner_cls.build_logger

    def build_logger(self, *args, **kwargs):
        logger = build(self, *args, **kwargs)
        for handler in logger.handlers:
            if type(handler) is logging.StreamHandler:
                handler.setLevel(max(handler.level, logging.WARNING))
                handler.addFilter(_not_noise)
        return logger

    runner_cls.build_logger = build_logger
    try:
        yield
    finally:
        runner_cls.build_logger = build


SCOPE = "mmpose"  # mmpose-ext's hooks live in MMPose's registry; a detector config's default scope is mmdet
TRAIN_KEYS = ("model", "train_dataloader", "train_cfg", "optim_wrapper")
TEST_KEYS = ("model", "test_dataloader", "test_evaluator", "test_cfg")


def _prepare(config, work_dir, cfg_options, trust_checkpoint, checkpoints, required=()):
    cfg = load_config(config, cfg_options)  # registers the plugins' classes too
    missing = [key for key in required if key not in cfg]
    if missing:  # mmengine would fail with KeyError: 'model', or a RuntimeError about its loops
        raise ConfigError(f"config {config} defines no {', '.join(missing)}: it cannot be "
                          f"{'trained' if required == TRAIN_KEYS else 'tested'}",
                          "a runnable config defines model, dataloaders, loops and evaluators, usually by inheriting "
                          "_base_ = ['mmpose::_base_/default_runtime.py'] (see MMPose's configs/body_2d_keypoint/)")
    _check_init_cfgs(cfg.get("model"), "model")
    if work_dir is not None:
        cfg.work_dir = str(work_dir)
    elif cfg.get("work_dir") is None:
        cfg.work_dir = osp.join("work_dirs", Path(config).stem)
    if trust_checkpoint:
        safe_checkpoint.trust(*[str(c) for c in checkpoints if c])
    return cfg


def _check_init_cfgs(node, where: str) -> None:
    """Every ``init_cfg`` in the model is None, a dict with a ``type`` or a list of them: mmengine would fail deep
    in ``init_weights`` (``'int' object is not iterable``) after the run folder was made."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "init_cfg" and value is not None:
                items = value if isinstance(value, (list, tuple)) else [value]
                if not items or not all(isinstance(i, dict) and isinstance(i.get("type"), str) for i in items):
                    raise ConfigError(f"{where}.init_cfg = {value!r}: expected None, a dict with a type "
                                      "(dict(type='Pretrained', checkpoint=...)) or a list of them",
                                      "fix it in the config or in --cfg-options")
                for item in items:
                    ckpt = item.get("checkpoint")
                    if isinstance(ckpt, str) and "://" not in ckpt and not Path(ckpt).is_file():
                        raise ConfigError(f"{where}.init_cfg: checkpoint {ckpt} does not exist",
                                          "give the path of a local .pth file, or init_cfg=None to start from "
                                          "random weights")
            else:
                _check_init_cfgs(value, f"{where}.{key}")
    elif isinstance(node, (list, tuple)):
        for i, item in enumerate(node):
            _check_init_cfgs(item, f"{where}[{i}]")


def check_config(cfg, config, phases=("train", "val")) -> None:
    """Run :func:`~mmpose_ext.apis.preflight.preflight` for ``phases``; print every error and raise the first as
    ConfigError."""
    from mmpose_ext.apis.preflight import preflight
    from mmpx.check.problems import ERROR, print_table

    errors = [p for p in preflight(cfg, config, phases) if p.severity == ERROR]
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


def _apply_train_options(cfg, config, o: RunOptions, load_from) -> None:
    """The options of ``mmpx train`` beyond MMPose's own ``--resume``/``--amp`` (see docs/training.md)."""
    import os

    if o.seed is not None or o.deterministic:
        cfg.randomness = dict(cfg.get("randomness") or {}, seed=o.seed, deterministic=o.deterministic)
        if o.deterministic:
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic CUDA matmuls need
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


def train_config(config: str | Path, options: RunOptions | None = None, **changes):
    """The config :func:`train` runs, checked (``preflight``) but not run; options as for :func:`train`."""
    from mmpose_ext.engine.atomic_checkpoint import use_atomic_checkpoints
    from mmpose_ext.engine.report_hook import add_report_hook

    o = RunOptions.of(options, **changes)
    cfg = _prepare(config, o.work_dir, o.cfg_options, False, [], TRAIN_KEYS)
    if o.resume:
        cfg.resume = True
        if o.resume in (True, "auto"):  # the newest intact checkpoint: a run killed while saving leaves a bad one
            from mmpose_ext.apis.resume import latest_good_checkpoint

            cfg.load_from = latest_good_checkpoint(cfg.work_dir)
            if cfg.load_from is None:  # as the warning says: from scratch (mmengine would follow the bad pointer)
                cfg.resume = False
        else:
            cfg.load_from = str(o.resume)
    if o.load_from and o.resume:
        cfg.load_from = str(o.load_from)
    _check_length(cfg, config)
    # before anything is written: the work dir against the config's data
    check_run_outputs(cfg, config, {"--work-dir": cfg.work_dir, **(o.outputs or {})})
    _apply_train_options(cfg, config, o, None if o.resume else o.load_from)
    if o.vis:
        from mmpose_ext.apis.vis_backends import add_vis_backends

        add_vis_backends(cfg, o.vis)
    if o.amp:
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.setdefault("loss_scale", "dynamic")
    if o.trust_checkpoint:
        safe_checkpoint.trust(*[str(t) for t in (cfg.get("load_from"), o.load_from) if t])
    if o.preflight:
        if o.load_from and not Path(o.load_from).is_file():
            raise ConfigError(f"--load-from: checkpoint {o.load_from} does not exist", "fix the path")
        check_config(cfg, config)
    for path in (cfg.get("load_from") if cfg.get("resume") else None, o.load_from):
        if path and "://" not in str(path) and Path(path).is_file():
            read_checkpoint(path)  # damaged or not a checkpoint: said now, before the runner writes its log folder
    use_atomic_checkpoints(cfg)  # a run killed while saving leaves the previous checkpoint whole
    hooks = list(cfg.get("custom_hooks") or [])
    if not any(h.get("type") == "PlotHook" for h in hooks):
        hooks.append(dict(type="PlotHook", _scope_=SCOPE))  # loss.png, val.png at the end
    hooks = add_report_hook(hooks)  # each validation's predictions, report.html at the end
    # a pose evaluator that computes nothing is misconfigured; mmdet's CocoMetric returns nothing while an early
    # detector finds no box, which is no error
    pose = cfg.get("default_scope") != "mmdet"
    if pose and cfg.get("val_evaluator") and not any(h.get("type") == "MetricCheckHook" for h in hooks):
        hooks.append(dict(type="MetricCheckHook", _scope_=SCOPE))  # an evaluator computing nothing stops at once
    progress = sys.stderr.isatty() if o.progress is None else o.progress
    if progress and not any(h.get("type") == "ProgressHook" for h in hooks):
        hooks.append(dict(type="ProgressHook", _scope_=SCOPE))  # a bar on a terminal, plain lines elsewhere
    cfg.custom_hooks = hooks
    return cfg


def train(config: str | Path, options: RunOptions | None = None, **changes):
    """Train ``config``; returns the mmengine Runner after training.

    Args:
        config: config file path.
        options: a :class:`RunOptions`; keyword arguments (``work_dir=...``, ``seed=...``) change single fields.

    Without ``resume``, ``load_from`` goes through :class:`~mmpose_ext.engine.PartialLoadHook`: every tensor
    whose name and shape match is loaded and the others are reported (fine-tuning across keypoint counts).
    Checkpoints are written by :class:`~mmpose_ext.engine.AtomicCheckpointHook`.
    """
    from mmpose_ext.apis.launch import setup_distributed, use_device
    from mmpx.atomic import clean_stale

    o = RunOptions.of(options, **changes)
    device = use_device(o.device)
    cfg = train_config(config, o)
    with work_dir_lock(cfg.work_dir):  # a second training into this work dir is refused at once
        clean_stale(cfg.work_dir)  # checkpoint temporaries of ended runs
        setup_distributed(cfg, o.launcher, device, o.master_port)
        bar = sys.stderr.isatty() and any(h.get("type") == "ProgressHook" for h in cfg.custom_hooks)
        runner = _runner(cfg, quiet_console=bar)
        if cfg.get("resume") and cfg.get("load_from") and o.resume in (True, "auto"):
            # mmpx picked the checkpoint (mmengine would follow last_checkpoint blindly), so mmengine's own line is
            # not printed: say it as mmengine does in its auto mode
            runner.logger.info(f"Auto resumed from the latest checkpoint {cfg.load_from}.")
        elif o.resume in (True, "auto") and not cfg.get("resume"):  # mmengine would start afresh without a word
            runner.logger.warning(f"--resume: no checkpoint to resume from in {cfg.work_dir}; training starts from "
                                  "scratch")
        if cfg.get("resume") and cfg.get("load_from"):  # mmengine resumes with strict=False: random weights else
            from mmpose_ext.apis.fit import check_checkpoint_fits

            check_checkpoint_fits(runner.model, cfg.load_from, f"config {config}", resume=True)
        with _prints_to_log_file(runner, bar):
            runner.train()
    return runner


def work_dir_lock(work_dir):
    """The lock of a training work dir, taken by the main process only: other ranks work under rank 0's (their
    ``RANK``/``SLURM_PROCID`` is not 0), and torchrun children of ``mmpx train --nproc`` under their parent's."""
    import os

    from mmpx.atomic.lock import hold

    if os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) != "0":
        return contextlib.nullcontext()
    return hold(work_dir, "work dir")


def test_config(config: str | Path, checkpoint: str | Path, options: RunOptions | None = None, **changes):
    """The config :func:`test` runs (``dump``/``show_dir`` pointing at their temporary places), checked."""
    o = RunOptions.of(options, **changes)
    cfg = _prepare(config, o.work_dir, o.cfg_options, o.trust_checkpoint, [checkpoint], TEST_KEYS)
    if not Path(checkpoint).is_file():
        raise ConfigError(f"checkpoint {checkpoint} does not exist", "give the path of a .pth file (see the work dir)")
    read_checkpoint(checkpoint)  # a damaged file is named now, before the runner writes its log folder
    check_run_outputs(cfg, config, {"--work-dir": cfg.work_dir, "--dump": o.dump, "--show-dir": o.show_dir,
                                    **(o.outputs or {})}, checkpoint=checkpoint)
    cfg.load_from = str(checkpoint)
    cfg.launcher = o.launcher
    if o.dump is not None:
        dump = Path(o.dump)
        if dump.suffix not in (".pkl", ".pickle"):
            raise ConfigError(f"--dump {dump}: the file must end in .pkl or .pickle", f"e.g. --dump {dump.stem}.pkl")
        if dump.is_dir():
            raise ConfigError(f"--dump {dump} is a folder", "give a file name, e.g. --dump preds.pkl")
        partial = str(_partial(dump))
        evaluators = cfg.test_evaluator if isinstance(cfg.test_evaluator, (list, tuple)) else [cfg.test_evaluator]
        cfg.test_evaluator = [*evaluators, dict(type="DumpResults", out_file_path=partial)]  # as MMPose --dump
    if o.show_dir is not None:
        show_dir = Path(o.show_dir)
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
        # one picture per image, every instance drawn (MMPose's hook writes one file per instance)
        vis.update(enable=True, out_dir=str(_partial(show_dir).resolve()), interval=1, show=False)
        if cfg.get("default_scope") != "mmdet":  # a detector's samples are whole images already
            vis.update(type="PerImageVisualizationHook", _scope_=SCOPE)
    if o.preflight:
        check_config(cfg, config, ("test",))  # a test needs no training data
    hooks = list(cfg.get("custom_hooks") or [])
    if cfg.get("default_scope") != "mmdet" and not any(h.get("type") == "MetricCheckHook" for h in hooks):
        # else {} printed and exit 0 (a detector's CocoMetric may rightly return nothing: see train_config)
        cfg.custom_hooks = [*hooks, dict(type="MetricCheckHook", _scope_=SCOPE)]
    from mmpose_ext.engine.report_hook import add_report_hook

    cfg.custom_hooks = add_report_hook(cfg.get("custom_hooks"))  # the test's predictions, report.html at the end
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


def test(config: str | Path, checkpoint: str | Path, options: RunOptions | None = None, **changes) -> dict:
    """Evaluate ``checkpoint`` on the config's test set; returns the metrics dict (on every rank).

    Args:
        options: a :class:`RunOptions` (keyword arguments change single fields). ``dump`` writes every
            prediction (a list of dicts, one per sample: ``pred_instances.keypoints`` ...) to a pickle, through
            mmengine's ``DumpResults`` evaluator as MMPose's ``tools/test.py --dump``; ``show_dir`` draws the
            predictions on every test image (MMPose's ``PoseVisualizationHook``).

    Both outputs appear only when the test finished: they are written beside their place and moved into it.
    """
    import os

    from mmpose_ext.apis.launch import setup_distributed, use_device

    o = RunOptions.of(options, **changes)
    device = use_device(o.device)
    dump = Path(o.dump) if o.dump is not None else None
    show_dir = Path(o.show_dir).resolve() if o.show_dir is not None else None
    cfg = test_config(config, checkpoint, o, dump=dump, show_dir=show_dir)
    main = os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) == "0"
    if main:  # before the rendezvous, so no other rank has drawn yet
        _clear_partial(dump, show_dir)
        if dump is not None:
            dump.parent.mkdir(parents=True, exist_ok=True)
    setup_distributed(cfg, o.launcher, device, o.master_port)
    try:
        runner = _runner(cfg)
        from mmpose_ext.apis.fit import check_checkpoint_fits

        check_checkpoint_fits(runner.model, checkpoint, f"config {config}")  # mmengine would test random weights
        metrics = runner.test()
    except BaseException:
        if main:
            _clear_partial(dump, show_dir)
        raise
    if main:
        _publish_outputs(dump, show_dir)
    return metrics
