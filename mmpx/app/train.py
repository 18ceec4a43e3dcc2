"""``mmpx train`` and ``mmpx test`` as functions: a request in (the config, the run's options, how to launch),
what rank 0 prints out. mmengine's Runner does the work, as in MMPose's tools (:mod:`mmpose_ext.apis`).

``mmpx train DATASET``: for a dataset folder, :func:`dataset_config` writes the config ``mmpx configs
new`` would into the work dir, under the work dir's lock, before the training it then runs."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from mmpx.app.launch import LaunchOptions, spawn
from mmpx.errors import MmpxError

DEFAULT_MODEL = "rtmpose-t"  # mmpx train DATASET without --model, as mmpx configs new


@dataclass
class TrainRequest:
    """What ``mmpx train`` was asked.

    Attributes:
        config: the config file (or a shipped config's name); a dataset folder is replaced by the config
            :func:`dataset_config` generates for it.
        options: :class:`mmpose_ext.apis.RunOptions` fields, less ``device``, ``launcher`` and ``master_port``
            (those come from ``launch``).
        launch: the device and the processes.
        argv: the command line as typed, from the command's name on: torchrun's children run it again.
    """

    config: Path
    options: dict = field(default_factory=dict)
    launch: LaunchOptions = field(default_factory=LaunchOptions)
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DatasetChoices:
    """What ``mmpx train DATASET`` passes to the config it generates: ``--model``, ``--input-size``, ``--epochs``
    (None: not given, and then refused with a config file), and the command line the config's header quotes."""

    model: str | None = None
    input_size: str | None = None
    epochs: str | None = None
    command: str = "mmpx train"

    def given(self) -> list[str]:
        return [o for o, v in (("--model", self.model), ("--input-size", self.input_size),
                               ("--epochs", self.epochs)) if v is not None]


@contextlib.contextmanager
def dataset_config(request: TrainRequest, choices: DatasetChoices) -> Iterator[tuple[TrainRequest, str | None]]:
    """The request to train and the line saying which config was generated (None: nothing to say).

    A config file or a shipped name passes through. A dataset folder (as ``mmpx convert`` writes it) gets the
    config ``mmpx configs new --data DATASET`` writes, as ``<work dir>/<dataset>_<model>.py`` (default work dir
    ``work_dirs/<dataset>_<model>``), written before training and under the work dir's lock, which is held
    for the block. ``--resume``, and torchrun's children of ``--nproc``, reuse the config already there.

    Raises:
        MmpxError: choices given with a config file; a folder that is not a dataset; what ``configs new`` refuses.
    """
    config = Path(request.config)
    if not config.is_dir():
        if choices.given():
            raise MmpxError(f"{', '.join(choices.given())}: these choose the config mmpx train generates for a "
                            f"dataset folder, and {config} is a config file",
                            "leave them out (edit the config instead), or give the dataset folder")
        yield request, None
        return
    from mmpx.atomic.guard import check_apart
    from mmpx.atomic.lock import hold
    from mmpx.configs.new import MODELS

    _check_dataset(config)
    model = choices.model or DEFAULT_MODEL
    if model not in MODELS:
        raise MmpxError(f"--model {model!r} is not one of {', '.join(MODELS)}", f"e.g. --model {DEFAULT_MODEL}")
    name = f"{Path(os.path.abspath(config)).name}_{model}"
    work_dir = Path(request.options.get("work_dir") or Path("work_dirs") / name)
    check_apart({"--work-dir": work_dir}, {"DATASET": config}, may_contain=["--work-dir"])
    target = work_dir / f"{name}.py"
    resume = request.options.get("resume") is not None
    with hold(work_dir, "work dir"):
        line = None
        if not (target.is_file() and (resume or _under_parent(work_dir))):
            line = _generate(config, model, target, choices, check=request.options.get("preflight", True))
        elif resume:
            line = f"config: {target} (generated for {config} by an earlier run; --resume keeps it)"
        yield replace(request, config=target, options={**request.options, "work_dir": work_dir}), line


def _check_dataset(folder: Path) -> None:
    missing = [n for n in ("train.json", "val.json") if not (folder / "annotations" / n).is_file()]
    if missing:
        raise MmpxError(f"{folder}: a folder, and not a dataset (no annotations/{missing[0]})",
                        "give a config .py, a shipped config's name (mmpx configs list), or a dataset folder as "
                        "mmpx convert writes it (annotations/train.json, val.json, images/, metainfo.py)")


def _under_parent(work_dir: Path) -> bool:
    """A torchrun child of ``mmpx train --nproc``: it works under its parent's lock, on its parent's config."""
    from mmpx.atomic.lock import HELD_ENV

    return str(Path(os.path.abspath(work_dir))) in os.environ.get(HELD_ENV, "").split(os.pathsep)


def _generate(data: Path, model: str, target: Path, choices: DatasetChoices, check: bool) -> str:
    """Write ``mmpx configs new``'s config for ``data`` to ``target`` (replacing an earlier run's); the line."""
    from mmpx.app.configs_new import ConfigsNewRequest, configs_new

    done = configs_new(ConfigsNewRequest(data, model, target, input_size=choices.input_size or "auto",
                                         epochs=choices.epochs or "auto", overwrite=True, command=choices.command,
                                         check=check))
    p = done.plan
    return (f"config: generated {target} for {data}: {p.model}, {len(p.names)} keypoints, input "
            f"{p.input_size[0]}x{p.input_size[1]}, {p.epochs} epochs (mmpx configs new's choices)")


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


__all__ = ["DatasetChoices", "RunOutcome", "TestRequest", "TrainRequest", "dataset_config", "test", "train"]
