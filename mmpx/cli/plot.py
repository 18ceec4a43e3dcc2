"""``mmpx plot``: training curves of a run folder or a ``scalars.json``, as PNG files."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class XAxis(StrEnum):
    iter = "iter"
    epoch = "epoch"


def plot(
    run: Annotated[
        Path,
        typer.Argument(
            help="Run folder (the --work-dir of mmpx train; every start of a resumed run is merged) or one "
            "<timestamp>/vis_data/scalars.json.",
            show_default=False,
        ),
    ],
    keys: Annotated[
        list[str] | None,
        typer.Option(
            "--keys",
            "-k",
            help="Keys to plot: names or glob patterns, repeat or separate by commas (loss*, coco/*, PCK, lr). "
            "A pattern without '/' also matches after the last '/' (AP finds coco/AP). "
            "Default: every loss and every validation metric.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="A .png file (one image, a panel per group) or a folder (loss.png, train.png, val.png). "
            "Default: the run folder.",
            show_default=False,
        ),
    ] = None,
    x: Annotated[
        XAxis | None,
        typer.Option(
            "--x",
            help="One x axis for every panel: iter or epoch (epoch-based runs). Default: losses against the "
            "iteration, validation metrics against the epoch.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Plot training losses and validation metrics of a run (validation metrics against epochs, which MMPose's
    analyze_logs cannot do). Prints the PNGs written and the series in each.
    """
    from mmpx.plots import plot_scalars

    patterns = [p.strip() for value in keys or [] for p in value.split(",") if p.strip()]
    as_file = out is not None and out.suffix.lower() == ".png"
    plots = plot_scalars(
        run,
        out_dir=None if as_file else out,
        out_file=out if as_file else None,
        keys=patterns or None,
        x=x.value if x is not None else None,
    )
    for p in plots:
        typer.echo(f"{p.path}: {', '.join(p.series)}")
