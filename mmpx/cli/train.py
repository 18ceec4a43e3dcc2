"""``mmpx train`` and ``mmpx test``: run a config through mmengine's Runner, as MMPose's tools do."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._options import (
    CfgExtraArg,
    CfgOptionsOpt,
    ConfigArg,
    TrustCheckpointOpt,
    WorkDirOpt,
    cfg_options_from,
)


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
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Train a model from a config. Installed plugins' backbones, datasets, ... are available by name."""
    from mmpose_ext.apis import train as run_train

    run_train(
        config,
        work_dir=work_dir,
        resume=resume,
        load_from=load_from,
        amp=amp,
        cfg_options=cfg_options_from(cfg_options, cfg_extra),
        trust_checkpoint=trust_checkpoint,
    )


def test(
    config: ConfigArg,
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to evaluate.", show_default=False)],
    work_dir: WorkDirOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the metrics to this JSON file.")] = None,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
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
    )
    text = json.dumps({k: float(v) if hasattr(v, "__float__") else v for k, v in metrics.items()}, indent=2)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    typer.echo(text)
