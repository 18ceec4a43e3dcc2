"""``mmpx train`` and ``mmpx test``: run a config through mmengine's Runner, as MMPose's tools do.

``--nproc``/``--nnodes`` re-run the same command under torchrun (``python -m torch.distributed.run ... -m mmpx
train ... --launcher pytorch``), after this process checked everything once (preflight); see docs/training.md.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmpx.atomic import write_text
from mmpx.cli._guard import guarded
from mmpx.cli._options import (
    CfgExtraArg,
    CfgOptionsOpt,
    ConfigArg,
    NoPreflightOpt,
    TrustCheckpointOpt,
    WorkDirOpt,
    cfg_options_from,
)


class Launcher(StrEnum):
    none = "none"
    pytorch = "pytorch"
    slurm = "slurm"
    mpi = "mpi"


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"


DeviceOpt = Annotated[
    Device | None,
    typer.Option(
        "--device", help="Run on the CPU or on CUDA GPUs (default: cuda when a GPU is visible, else cpu).",
        show_default=False,
    ),
]  # fmt: skip
LauncherOpt = Annotated[
    Launcher,
    typer.Option(
        "--launcher",
        help="Set when this process is one of several started by someone else: pytorch (torchrun) or slurm (srun). "
        "--nproc/--nnodes start them for you.",
    ),
]
NprocOpt = Annotated[
    int, typer.Option("--nproc", help="Processes on this machine (one per GPU with --device cuda), via torchrun.")
]
NnodesOpt = Annotated[int, typer.Option("--nnodes", help="Machines taking part; run the command on each.")]
NodeRankOpt = Annotated[int, typer.Option("--node-rank", help="This machine's rank, 0 to --nnodes - 1.")]
MasterAddrOpt = Annotated[
    str | None,
    typer.Option("--master-addr", help="Address of the --node-rank 0 machine (needed with --nnodes > 1).",
                 show_default=False),
]  # fmt: skip
MasterPortOpt = Annotated[
    int | None,
    typer.Option(
        "--master-port",
        help="Rendezvous port (default: a free one on a single machine, 29500 across machines and under slurm).",
        show_default=False,
    ),
]


def _early_device(device: Device | None) -> None:
    """``--device`` before mmpose_ext (mmengine, mmpose: seconds of imports) is imported.

    cpu: mmengine picks its device at import from torch.cuda.is_available(), and CUDA reads CUDA_VISIBLE_DEVICES
    once, so the GPUs are hidden first (mmpose_ext.apis.launch.hide_cuda, which cannot be imported without
    mmengine). cuda: fail at once when torch has none; use_device() then checks the GPU count.
    """
    if device == Device.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif device == Device.cuda:
        import torch

        if not torch.cuda.is_available():
            from mmpx.errors import MmpxError

            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise MmpxError(
                f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA device",
                "use --device cpu; for a GPU, install a CUDA torch (MMPX_TORCH_INDEX_URL=https://download.pytorch"
                ".org/whl/cu128 make setup) and check `nvidia-smi` and CUDA_VISIBLE_DEVICES",
            )


def _setup_launch(device, launcher, nproc, nnodes, node_rank, master_addr, master_port) -> tuple[dict, str]:
    """Check the launch options and apply --device; returns the launch arguments and the device in use."""
    from mmpose_ext.apis.launch import check_launch, use_device

    launch = dict(nproc=nproc, nnodes=nnodes, node_rank=node_rank, master_addr=master_addr, master_port=master_port)
    check_launch(**launch, launcher=launcher.value)
    return launch, use_device(device.value if device else None, nproc)


# What the parent consumes: the children get the rest of the command line as the user typed it.
_LAUNCH_VALUES = ("--nproc", "--nnodes", "--node-rank", "--master-addr", "--master-port", "--device", "--launcher")
_LAUNCH_FLAGS = ("--no-preflight", "--progress", "--no-progress")


def child_argv(argv: list[str], *extra: str) -> list[str]:
    """The command line a torchrun child runs: ``argv`` less the launch options, plus ``extra``.

    Everything else (every current and future option of train/test) passes through untouched.
    """
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _LAUNCH_VALUES:
            skip = "=" not in arg
            continue
        if arg in _LAUNCH_FLAGS:
            continue
        out.append(arg)
    return [*out, *extra]


def bare_resume(argv: list[str]) -> list[str]:
    """``argv`` of ``mmpx train`` with a bare ``--resume`` (at the end, or before another option) made
    ``--resume auto``, as MMPose's ``tools/train.py`` reads it; click options cannot take an optional value."""
    out = list(argv)
    for i in range(len(out) - 1, -1, -1):  # from the end, so inserting keeps the earlier indices right
        if out[i] == "--resume" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "auto")
    return out


def _spawn(device: str, what: str, launch: dict, *extra: str) -> None:
    from mmpose_ext.apis.launch import spawn, torchrun_argv
    from mmpx.cli.main import command_argv

    command = child_argv(command_argv(), "--device", device, "--no-preflight", *extra)
    spawn(torchrun_argv(command, **launch), what)


@guarded(inputs=("config", "load_from", "resume"), outputs=("work_dir",), may_contain=("work_dir",))
def train(
    config: ConfigArg,
    work_dir: WorkDirOpt = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Resume training: a bare --resume (as MMPose's tools/train.py) or 'auto' picks the latest checkpoint "
            "in the work dir; or give a checkpoint path.",
            show_default=False,
        ),
    ] = None,
    load_from: Annotated[
        Path | None, typer.Option("--load-from", help="Start from these weights (no optimizer state).")
    ] = None,
    amp: Annotated[bool, typer.Option("--amp", help="Automatic mixed precision.")] = False,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (cfg.randomness.seed).")] = None,
    deterministic: Annotated[
        bool, typer.Option("--deterministic", help="Deterministic algorithms (slower; use with --seed).")
    ] = False,
    no_validate: Annotated[bool, typer.Option("--no-validate", help="Do not validate during training.")] = False,
    auto_scale_lr: Annotated[
        bool,
        typer.Option("--auto-scale-lr", help="Scale the lr by batch size / config's auto_scale_lr.base_batch_size."),
    ] = False,
    freeze: Annotated[
        list[str] | None,
        typer.Option(
            "--freeze",
            help="Freeze parameters (requires_grad=False, BatchNorm statistics fixed): a glob on parameter names "
            "(backbone.stem.*), a module name (backbone), or backbone:N (stem + first N stages). Repeat for several.",
            show_default=False,
        ),
    ] = None,
    device: DeviceOpt = None,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar with epoch, iteration, loss and ETA (default: when stderr is a terminal). "
            "The full log still goes to the work dir.",
            show_default=False,
        ),
    ] = None,
    vis: Annotated[
        list[str] | None,
        typer.Option(
            "--vis",
            help="Also log the scalars to tensorboard, wandb or mlflow (repeat or a,b); the local scalars.json "
            "(mmpx plot) is always written. Tensorboard: tensorboard --logdir WORK_DIR.",
            show_default=False,
        ),
    ] = None,
    nproc: NprocOpt = 1,
    nnodes: NnodesOpt = 1,
    node_rank: NodeRankOpt = 0,
    master_addr: MasterAddrOpt = None,
    master_port: MasterPortOpt = None,
    launcher: LauncherOpt = Launcher.none,
    no_preflight: NoPreflightOpt = False,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Train a model from a config. Installed plugins' backbones, datasets, ... are available by name.

    --load-from loads every tensor whose name and shape match and lists the skipped ones, so a checkpoint with
    another number of keypoints fine-tunes without edits. --nproc N trains with N processes on this machine
    (--nnodes/--node-rank/--master-addr for several machines); see docs/training.md.
    """
    _early_device(device)
    from mmpose_ext.apis import RunOptions
    from mmpose_ext.apis.launch import exit_launched_process, finish_distributed, summary

    launch, dev = _setup_launch(device, launcher, nproc, nnodes, node_rank, master_addr, master_port)
    options = RunOptions(
        work_dir=work_dir, resume=resume, load_from=load_from, amp=amp, cfg_options=cfg_options_from(cfg_options,
        cfg_extra), trust_checkpoint=trust_checkpoint, seed=seed, deterministic=deterministic,
        no_validate=no_validate, auto_scale_lr=auto_scale_lr, freeze=freeze, preflight=not no_preflight,
        progress=progress, vis=vis, launcher=launcher.value, device=dev, master_port=master_port,
    )  # fmt: skip
    if nproc > 1 or nnodes > 1:
        from mmpose_ext.apis.train import train_config

        cfg = train_config(config, options, launcher="pytorch")  # preflight, once, before any process starts
        show = progress if progress is not None else _stderr_is_terminal()
        from mmpose_ext.apis.train import work_dir_lock
        from mmpx.atomic.lock import held_env

        with work_dir_lock(cfg.work_dir):
            os.environ.update(held_env(cfg.work_dir))  # the children train under this process's lock
            _spawn(dev, f"mmpx train {config} with {nnodes * nproc} process(es)", launch,
                   "--progress" if show else "--no-progress")
        return
    from mmpose_ext.apis import train as run_train

    runner = run_train(config, options)
    if runner is None:  # a stand-in for the API (plugins, tests) that trains elsewhere
        return
    line = summary(runner, config)
    finish_distributed()
    if runner.rank == 0:
        typer.echo(line)
        from mmpx.cli.report import echo_report

        echo_report()  # the page ReportHook wrote at the end of the run
    if launcher != Launcher.none:  # one of torchrun's/srun's processes: leave before gloo's teardown can abort
        exit_launched_process(0)


def _stderr_is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


@guarded(inputs=("config", "checkpoint"), outputs=("work_dir", "out", "dump", "show_dir"),
         may_contain=("work_dir",))
def test(
    config: ConfigArg,
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to evaluate.", show_default=False)],
    work_dir: WorkDirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the metrics to this JSON file.")] = None,
    dump: Annotated[
        Path | None,
        typer.Option(
            "--dump",
            help="Write every prediction to this .pkl file (a list with one dict per sample, as MMPose's "
            "tools/test.py --dump: pred_instances.keypoints, keypoint_scores, img_path, ...).",
            show_default=False,
        ),
    ] = None,
    show_dir: Annotated[
        Path | None,
        typer.Option(
            "--show-dir",
            help="Draw the predicted keypoints on every test image into this folder (one image per test image).",
            show_default=False,
        ),
    ] = None,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
    device: DeviceOpt = None,
    nproc: NprocOpt = 1,
    nnodes: NnodesOpt = 1,
    node_rank: NodeRankOpt = 0,
    master_addr: MasterAddrOpt = None,
    master_port: MasterPortOpt = None,
    launcher: LauncherOpt = Launcher.none,
    no_preflight: NoPreflightOpt = False,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Evaluate a checkpoint on the config's test set and print its metrics.

    --dump and --show-dir keep the predictions (as MMPose's tools/test.py); --nproc N splits the test set
    over N processes.
    """
    from mmpx.atomic import check_writable

    for path, option in ((out, "--out"), (dump, "--dump"), (show_dir, "--show-dir")):
        if path is not None:  # now, not after the whole test set
            check_writable(path, option, folder=option == "--show-dir")
    _early_device(device)
    from mmpose_ext.apis import RunOptions

    launch, dev = _setup_launch(device, launcher, nproc, nnodes, node_rank, master_addr, master_port)
    options = RunOptions(
        work_dir=work_dir, cfg_options=cfg_options_from(cfg_options, cfg_extra), trust_checkpoint=trust_checkpoint,
        preflight=not no_preflight, dump=dump, show_dir=show_dir, launcher=launcher.value, device=dev,
        master_port=master_port, outputs={"--out": out},
    )  # fmt: skip
    if nproc > 1 or nnodes > 1:
        from mmpose_ext.apis.train import test_config

        test_config(config, checkpoint, options, launcher="pytorch")  # preflight, once
        _spawn(dev, f"mmpx test {config} with {nnodes * nproc} process(es)", launch)
        return
    from mmengine.dist import get_rank

    from mmpose_ext.apis import test as run_test
    from mmpose_ext.apis.launch import exit_launched_process, finish_distributed

    metrics = run_test(config, checkpoint, options)
    rank = get_rank()
    finish_distributed()
    if rank == 0:
        text = json.dumps({k: float(v) if hasattr(v, "__float__") else v for k, v in metrics.items()}, indent=2)
        if out is not None:
            write_text(out, text + "\n")
        typer.echo(text)
        from mmpx.cli.report import echo_report

        echo_report(err=True)  # stdout stays the metrics JSON
    if launcher != Launcher.none:  # see train: leave before gloo's teardown can abort
        exit_launched_process(0)
