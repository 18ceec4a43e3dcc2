"""``mmpx train`` and ``mmpx test`` as functions: a request in (the config, the run's options, how to launch),
what rank 0 prints out. mmengine's Runner does the work, as in MMPose's tools (:mod:`mmpose_ext.apis`)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.app.launch import LaunchOptions, spawn


@dataclass
class TrainRequest:
    """What ``mmpx train`` was asked.

    Attributes:
        config: the config file (or a shipped config's name).
        options: :class:`mmpose_ext.apis.RunOptions` fields, less ``device``, ``launcher`` and ``master_port``
            (those come from ``launch``).
        launch: the device and the processes.
        argv: the command line as typed, from the command's name on: torchrun's children run it again.
    """

    config: Path
    options: dict = field(default_factory=dict)
    launch: LaunchOptions = field(default_factory=LaunchOptions)
    argv: list[str] = field(default_factory=list)


@dataclass
class TestRequest:
    """What ``mmpx test`` was asked: as :class:`TrainRequest`, with the checkpoint and the file for the metrics
    (``--out``); ``options`` may hold ``dump`` and ``show_dir``, which are checked as writable first."""

    __test__ = False  # not a test class, for pytest

    config: Path
    checkpoint: Path
    out: Path | None = None
    options: dict = field(default_factory=dict)
    launch: LaunchOptions = field(default_factory=LaunchOptions)
    argv: list[str] = field(default_factory=list)


@dataclass
class RunOutcome:
    """What a train or test in this process leaves to print: nothing on ranks other than 0 or when torchrun's
    children did the work.

    Attributes:
        text: the run's summary line (train) or its metrics as JSON (test).
        report: the page the run's ReportHook wrote, if any.
        launch: the launch options; :meth:`finish` ends a process torchrun or srun started.
    """

    text: str | None = None
    report: Path | None = None
    launch: LaunchOptions | None = None

    def finish(self) -> None:
        """After the print: leave a torchrun/srun process before gloo's teardown can abort it."""
        if self.launch is not None:
            self.launch.leave()


def _run_options(request: TrainRequest | TestRequest, device: str):
    from mmpose_ext.apis import RunOptions

    launch = request.launch
    return RunOptions(**request.options, launcher=launch.launcher, device=device, master_port=launch.master_port)


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def train(request: TrainRequest) -> RunOutcome:
    """Train ``request.config``; with several processes, check everything here once (preflight), then run the
    same command under torchrun, with this process holding the work dir's lock."""
    device = request.launch.setup()
    options = _run_options(request, device)
    if request.launch.spawns:
        from mmpose_ext.apis.prepare import train_config
        from mmpose_ext.apis.run import work_dir_lock
        from mmpx.atomic.lock import held_env

        cfg = train_config(request.config, options, launcher="pytorch")  # preflight, once, before any process
        show = options.progress if options.progress is not None else _stderr_is_terminal()
        with work_dir_lock(cfg.work_dir):
            os.environ.update(held_env(cfg.work_dir))  # the children train under this process's lock
            spawn(request.argv, request.launch, device, _what("train", request),
                  "--progress" if show else "--no-progress")
        return RunOutcome()
    from mmpose_ext.apis import train as run_train
    from mmpose_ext.apis.launch import finish_distributed, summary

    runner = run_train(request.config, options)
    if runner is None:  # a stand-in for the API (plugins, tests) that trains elsewhere
        return RunOutcome()
    line = summary(runner, request.config)
    finish_distributed()
    if runner.rank != 0:
        return RunOutcome(launch=request.launch)
    return RunOutcome(line, _last_report(), request.launch)


def test(request: TestRequest) -> RunOutcome:
    """Evaluate ``request.checkpoint`` on the config's test set; rank 0 writes ``request.out``. With several
    processes, check everything here once, then split the test set over torchrun's."""
    from mmpx.atomic import check_writable, write_text

    outputs = ((request.out, "--out"), (request.options.get("dump"), "--dump"),
               (request.options.get("show_dir"), "--show-dir"))
    for path, option in outputs:
        if path is not None:  # now, not after the whole test set
            check_writable(path, option, folder=option == "--show-dir")
    device = request.launch.setup()
    options = _run_options(request, device)
    if request.launch.spawns:
        from mmpose_ext.apis.prepare import test_config

        test_config(request.config, request.checkpoint, options, launcher="pytorch")  # preflight, once
        spawn(request.argv, request.launch, device, _what("test", request))
        return RunOutcome()
    metrics, rank = _test_here(request, options)
    if rank != 0:
        return RunOutcome(launch=request.launch)
    text = json.dumps({k: float(v) if hasattr(v, "__float__") else v for k, v in metrics.items()}, indent=2)
    if request.out is not None:
        write_text(request.out, text + "\n")
    return RunOutcome(text, _last_report(), request.launch)


def _test_here(request: TestRequest, options) -> tuple[dict, int]:
    """The metrics of a test run in this process, and this process's rank."""
    from mmengine.dist import get_rank

    from mmpose_ext.apis import test as run_test
    from mmpose_ext.apis.launch import finish_distributed

    metrics = run_test(request.config, request.checkpoint, options)
    rank = get_rank()
    finish_distributed()
    return metrics, rank


def _what(command: str, request: TrainRequest | TestRequest) -> str:
    launch = request.launch
    return f"mmpx {command} {request.config} with {launch.nnodes * launch.nproc} process(es)"


def _last_report() -> Path | None:
    from mmpose_ext.engine.report_hook import last_report

    return last_report()


__all__ = ["RunOutcome", "TestRequest", "TrainRequest", "test", "train"]
