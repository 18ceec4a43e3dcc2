"""``mmpx train`` and ``mmpx test``: run a config through mmengine's Runner, as MMPose's tools do."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

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


def train(
    config: ConfigArg,
    work_dir: WorkDirOpt = None,
    resume: Annotated[
        str | None,
        typer.Option(
            "--resume",
            help="Resume training: 'auto' picks the latest checkpoint in the work dir, or give a checkpoint path.",
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
    launcher: Annotated[
        Launcher, typer.Option("--launcher", help="Job launcher for distributed training.")
    ] = Launcher.none,
    freeze: Annotated[
        list[str] | None,
        typer.Option(
            "--freeze",
            help="Freeze parameters (requires_grad=False, BatchNorm statistics fixed): a glob on parameter names "
            "(backbone.stem.*), a module name (backbone), or backbone:N (stem + first N stages). Repeat for several.",
            show_default=False,
        ),
    ] = None,
    no_preflight: NoPreflightOpt = False,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Train a model from a config. Installed plugins' backbones, datasets, ... are available by name.

    --load-from loads every tensor whose name and shape match and lists the skipped ones, so a checkpoint with
    another number of keypoints fine-tunes without edits (see docs/training.md).
    """
    from mmpose_ext.apis import train as run_train

    options = dict(seed=seed, deterministic=deterministic, no_validate=no_validate, auto_scale_lr=auto_scale_lr)
    options.update(launcher=launcher.value, freeze=freeze, preflight=False if no_preflight else None)
    run_train(
        config,
        work_dir=work_dir,
        resume=resume,
        load_from=load_from,
        amp=amp,
        cfg_options=cfg_options_from(cfg_options, cfg_extra),
        trust_checkpoint=trust_checkpoint,
        **{k: v for k, v in options.items() if v is not None and v is not False and v != "none"},  # the ones set
    )


def test(
    config: ConfigArg,
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to evaluate.", show_default=False)],
    work_dir: WorkDirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the metrics to this JSON file.")] = None,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
    no_preflight: NoPreflightOpt = False,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Evaluate a checkpoint on the config's test set and print its metrics."""
    from mmpose_ext.apis import test as run_test

    metrics = run_test(
        config,
        checkpoint,
        work_dir=work_dir,
        cfg_options=cfg_options_from(cfg_options, cfg_extra),
        trust_checkpoint=trust_checkpoint,
        preflight=not no_preflight,
    )
    text = json.dumps({k: float(v) if hasattr(v, "__float__") else v for k, v in metrics.items()}, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    typer.echo(text)
