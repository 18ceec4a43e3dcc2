"""``mmpx browse``: draw a config's dataset as annotated or as the model sees it after the pipeline."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._options import CfgExtraArg, CfgOptionsOpt, ConfigArg, cfg_options_from


class Phase(StrEnum):
    train = "train"
    val = "val"
    test = "test"


class Mode(StrEnum):
    original = "original"
    transformed = "transformed"


@guarded(inputs=("config",), outputs=("out_dir",))
def browse(
    config: ConfigArg,
    phase: Annotated[Phase, typer.Option("--phase", help="Which dataloader's dataset to draw.")] = Phase.train,
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            help="original: the image with its ground-truth boxes, keypoints and skeleton, no transform. "
            "transformed: the phase's pipeline with its augmentations: the network input, keypoints moved "
            "into it, and the training targets (heatmaps overlaid; SimCC x/y distributions in edge strips).",
        ),
    ] = Mode.original,
    max_samples: Annotated[int, typer.Option("--max", help="Draw at most this many samples (the first ones).")] = 16,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            help="Output folder; images go to <out-dir>/<phase>_<mode>/ (default: work_dirs/browse/<config name>).",
            show_default=False,
        ),
    ] = None,
    cfg_options: CfgOptionsOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the augmentations (transformed mode).")] = 0,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Look at a dataset as the model sees it: one JPEG per sample and a contact sheet.

    Works with any skeleton (colours and links from the dataset's metainfo) and with in-memory datasets; with
    several classes, each instance is drawn with its own class's keypoints, skeleton and colours, its class's name
    at its box.
    """
    from mmpose_ext.visual.browse import browse as run_browse

    result = run_browse(
        config,
        phase=phase.value,
        mode=mode.value,
        max_samples=max_samples,
        out_dir=out_dir,
        cfg_options=cfg_options_from(cfg_options, cfg_extra),
        seed=seed,
    )
    for sample in result.samples:
        typer.echo(str(sample.path))
    typer.echo(str(result.sheet))
    for index, why in result.skipped:
        typer.echo(f"skipped sample {index}: {why}", err=True)
    targets = sorted({s.target for s in result.samples if s.target})
    typer.echo(f"drew {len(result.samples)} {phase.value} samples ({mode.value}"
               + (f", targets: {', '.join(targets)}" if targets else "") + f") into {result.folder}", err=True)
