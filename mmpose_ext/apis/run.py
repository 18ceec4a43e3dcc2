"""Train and test a config with mmengine's Runner, as MMPose's ``tools/train.py`` and ``tools/test.py`` do.

The config comes from :mod:`mmpose_ext.apis.prepare` (checked, options applied); here the Runner is built and run:
the device, the work dir's lock, the process group of a launched process, the checkpoint checked against the
model, the terminal kept short under the progress bar (:mod:`mmpose_ext.engine.console`) and the test's outputs
moved into place (:mod:`mmpose_ext.apis.staged`). Errors a user can fix are :class:`mmpx.errors.MmpxError`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from mmpose_ext.apis import staged
from mmpose_ext.apis.options import RunOptions
from mmpose_ext.apis.prepare import test_config, train_config
from mmpose_ext.models.checkpoint_fit import check_checkpoint_fits, check_keypoint_names


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
    from mmpose_ext.engine.console import prints_to_log_file
    from mmpx.atomic import clean_stale

    o = RunOptions.of(options, **changes)
    device = use_device(o.device)
    cfg = train_config(config, o)
    if o.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what deterministic CUDA matmuls need
    with work_dir_lock(cfg.work_dir):  # a second training into this work dir is refused at once
        clean_stale(cfg.work_dir)  # checkpoint temporaries of ended runs
        setup_distributed(cfg, o.launcher, device, o.master_port)
        bar = sys.stderr.isatty() and any(h.get("type") == "ProgressHook" for h in cfg.custom_hooks)
        runner = build_runner(cfg, quiet_console=bar)
        if o.resume in (True, "auto"):
            _say_resume(runner, cfg)
        if cfg.get("resume") and cfg.get("load_from"):  # mmengine resumes with strict=False: random weights else
            check_checkpoint_fits(runner.model, cfg.load_from, f"config {config}", resume=True)
        with prints_to_log_file(runner, bar):
            runner.train()
    return runner


def _say_resume(runner, cfg) -> None:
    """mmpx picked the checkpoint (mmengine would follow last_checkpoint blindly), so mmengine's own line is not
    printed: say it as mmengine does in its auto mode, or that there was nothing to resume."""
    if cfg.get("resume") and cfg.get("load_from"):
        runner.logger.info(f"Auto resumed from the latest checkpoint {cfg.load_from}.")
    elif not cfg.get("resume"):  # mmengine would start afresh without a word
        runner.logger.warning(f"--resume: no checkpoint to resume from in {cfg.work_dir}; training starts from "
                              "scratch")


def test(config: str | Path, checkpoint: str | Path, options: RunOptions | None = None, **changes) -> dict:
    """Evaluate ``checkpoint`` on the config's test set; returns the metrics dict (on every rank).

    Args:
        options: a :class:`RunOptions` (keyword arguments change single fields). ``dump`` writes every
            prediction (a list of dicts, one per sample: ``pred_instances.keypoints`` ...) to a pickle, through
            mmengine's ``DumpResults`` evaluator as MMPose's ``tools/test.py --dump``; ``show_dir`` draws the
            predictions on every test image (MMPose's ``PoseVisualizationHook``).

    Both outputs appear only when the test finished: they are written beside their place and moved into it.
    """
    from mmpose_ext.apis.launch import setup_distributed, use_device
    from mmpx.atomic import clean_stale

    o = RunOptions.of(options, **changes)
    device = use_device(o.device)
    dump = Path(o.dump) if o.dump is not None else None
    show_dir = Path(o.show_dir).resolve() if o.show_dir is not None else None
    cfg = test_config(config, checkpoint, o, dump=dump, show_dir=show_dir)
    main = _is_main_process()
    if main:  # before the rendezvous, so no other rank has drawn yet
        clean_stale(cfg.work_dir)  # temporaries of ended runs (a killed distributed test's gathering folder)
        staged.begin(dump, show_dir)
    setup_distributed(cfg, o.launcher, device, o.master_port)
    try:
        runner = build_runner(cfg)
        meta = check_checkpoint_fits(runner.model, checkpoint, f"config {config}")  # else: random weights tested
        dataset = runner.test_loop.dataloader.dataset  # built here as runner.test() would: once
        note = check_keypoint_names(meta, getattr(dataset, "metainfo", None), str(checkpoint),
                                    f"the test set of config {config}")
        if note:
            runner.logger.warning(note)
        metrics = runner.test()
    except BaseException:
        if main:
            staged.discard(dump, show_dir)
        raise
    if main:
        staged.finish(dump, show_dir)
    return metrics


def _is_main_process() -> bool:
    """Rank 0 of a launched job (torchrun's ``RANK``, srun's ``SLURM_PROCID``), or a process on its own."""
    return os.environ.get("RANK", os.environ.get("SLURM_PROCID", "0")) == "0"


def work_dir_lock(work_dir):
    """The lock of a training work dir, taken by the main process only: other ranks work under rank 0's (their
    ``RANK``/``SLURM_PROCID`` is not 0), and torchrun children of ``mmpx train --nproc`` under their parent's."""
    from mmpx.atomic.lock import hold

    if not _is_main_process():
        return contextlib.nullcontext()
    return hold(work_dir, "work dir")


def build_runner(cfg, quiet_console: bool = False):
    """The Runner for ``cfg`` (``runner_type`` honoured); ``quiet_console``: its console starts at WARNING.
    Torch runs under the thread policy, and the loaders' workers die with this process."""
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mmpose_ext.apis.launch import init_cpu_process_group
    from mmpose_ext.engine.config_text import remember_formatting
    from mmpose_ext.engine.console import console_warnings_only
    from mmpose_ext.engine.cpu import apply_to_torch, bind_loader_workers, tensor_sharing, torch_threads
    from mmpose_ext.engine.dist_collect import collect_under

    apply_to_torch()  # the thread policy (mmpx.runtime.threads): no more threads than free cores
    tensor_sharing()  # a bad MMPX_TENSOR_SHARING stops here, before the Runner makes the run's folder
    remember_formatting()  # the config's text is formatted once, not for the log, the dump and every checkpoint
    init_cpu_process_group(cfg)  # a CPU run under torchrun/srun: mmengine's init_dist would need CUDA
    collect_under(cfg.work_dir)  # ranks gather results in the run's folder, not in the user's working directory
    with console_warnings_only(Runner, quiet_console), no_config_copy_over_itself(Runner):
        runner = Runner.from_cfg(cfg) if "runner_type" not in cfg else RUNNERS.build(cfg)
    bind_loader_workers(runner)  # a SIGKILLed run leaves no loader worker behind
    runner.logger.info(f"threads: {torch_threads()}")
    return runner


@contextlib.contextmanager
def no_config_copy_over_itself(runner_cls):
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


__all__ = ["build_runner", "test", "train", "work_dir_lock"]
