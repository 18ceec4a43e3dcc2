"""``mmpx train`` and ``mmpx test``: run a config through mmengine's Runner, as MMPose's tools do.

``--nproc``/``--nnodes`` re-run the same command under torchrun after this process checked everything once
(:mod:`mmpx.app.launch`); see docs/guides/training.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._launch import (
    DeviceOpt,
    Launcher,
    LauncherOpt,
    MasterAddrOpt,
    MasterPortOpt,
    NnodesOpt,
    NodeRankOpt,
    NprocOpt,
    launch_options,
)
from mmpx.cli._options import (
    CfgExtraArg,
    CfgOptionsOpt,
    ConfigArg,
    NoPreflightOpt,
    TrainConfigArg,
    TrustCheckpointOpt,
    WorkDirOpt,
    cfg_options_from,
)
from mmpx.cli._session import command_argv

_DATASET = "Dataset"  # the help panel of the options that only a dataset folder takes


@guarded(inputs=("config", "load_from", "resume"), outputs=("work_dir",), may_contain=("work_dir",))
def train(
    config: TrainConfigArg,
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
    model: Annotated[str | None, typer.Option(
        "--model", help="For a DATASET: rtmpose-t (default), rtmpose-s, rtmpose-m (SimCC), heatmap-resnet50 "
        "(top-down), rtmo-t, rtmo-s (one-stage) or dekr-hrnet-w32 (bottom-up), as mmpx configs new; the default "
        "work dir is work_dirs/<dataset>_<model>.", show_default=False,
        rich_help_panel=_DATASET)] = None,
    input_size: Annotated[str | None, typer.Option(
        "--input-size", help="For a DATASET: auto (default, from the train boxes' shape) or WxH, multiples of 32.",
        show_default=False, rich_help_panel=_DATASET)] = None,
    epochs: Annotated[str | None, typer.Option(
        "--epochs", help="For a DATASET: auto (default, scaled to the dataset's size) or a number.",
        show_default=False, rich_help_panel=_DATASET)] = None,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Train a model from a config, or from a dataset folder (a config is generated for it).

    Installed plugins' backbones, datasets, ... are available by name. For a DATASET folder (mmpx convert's
    output) the config mmpx configs new would write is generated as WORK_DIR/<dataset>_<model>.py before
    training, and reused by --resume (docs/guides/configs.md).
    --load-from loads every tensor whose name and shape match and lists the skipped ones, so a checkpoint with
    another number of keypoints fine-tunes without edits. --nproc N trains with N processes on this machine
    (--nnodes/--node-rank/--master-addr for several machines); see docs/guides/training.md.
    """
    from mmpx.app.train import DatasetChoices, TrainRequest, dataset_config
    from mmpx.app.train import train as run_train

    options = dict(work_dir=work_dir, resume=resume, load_from=load_from, amp=amp, trust_checkpoint=trust_checkpoint,
                   cfg_options=cfg_options_from(cfg_options, cfg_extra), seed=seed, deterministic=deterministic,
                   no_validate=no_validate, auto_scale_lr=auto_scale_lr, freeze=freeze, preflight=not no_preflight,
                   progress=progress, vis=vis)
    launch = launch_options(device, launcher, nproc, nnodes, node_rank, master_addr, master_port)
    choices = DatasetChoices(model, input_size, epochs, _command_line())
    request = TrainRequest(config, options, launch, command_argv() if launch.spawns else [])
    with dataset_config(request, choices) as (request, generated):
        if generated is not None:
            typer.echo(generated)
        outcome = run_train(request)
    if outcome.text is not None:
        typer.echo(outcome.text)
        _echo_report(outcome.report)  # the page ReportHook wrote at the end of the run
    outcome.finish()


def _command_line() -> str:
    """The command as typed, for the header of a generated config."""
    import shlex

    try:
        return "mmpx " + shlex.join(command_argv())
    except RuntimeError:  # called outside mmpx's main() (a test's CliRunner)
        return "mmpx train"


def _echo_report(page: Path | None, err: bool = False) -> None:
    if page is not None:
        typer.echo(f"report: {page}", err=err)


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
    from mmpx.app.train import TestRequest
    from mmpx.app.train import test as run_test

    options = dict(work_dir=work_dir, cfg_options=cfg_options_from(cfg_options, cfg_extra), dump=dump,
                   show_dir=show_dir, trust_checkpoint=trust_checkpoint, preflight=not no_preflight,
                   outputs={"--out": out})
    launch = launch_options(device, launcher, nproc, nnodes, node_rank, master_addr, master_port)
    outcome = run_test(TestRequest(config, checkpoint, out, options, launch, command_argv() if launch.spawns else []))
    if outcome.text is not None:
        typer.echo(outcome.text)
        _echo_report(outcome.report, err=True)  # stdout stays the metrics JSON
    outcome.finish()
