"""``mmpx plot RUN``: training curves of a run folder or a ``scalars.json``; ``mmpx plot trajectories FILE``: the
keypoint paths and speeds of a trajectory file (``mmpx infer --save-csv``). PNG files.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded

HELP = ("Plot a training run's curves (mmpx plot RUN, short for mmpx plot curves RUN) or a video's trajectories "
        "(mmpx plot trajectories FILE.csv), as PNG files.")


class _PlotGroup(TyperGroup):
    """``mmpx plot RUN`` keeps working: anything but a sub-command's name goes to ``mmpx plot curves``."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["help"] = kwargs.get("help") or HELP  # the command tree mounts it with help=None
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["curves", *args]
        return super().parse_args(ctx, args)


plot = app = make_typer(cls=_PlotGroup, help=HELP)


class XAxis(StrEnum):
    iter = "iter"
    epoch = "epoch"


@app.command("curves")
@guarded(inputs=("run",), outputs=("out",), writes_inside=("run",))
def curves(
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
    from mmpx.evaluation.plots import plot_scalars

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


@app.command("trajectories")
@guarded(inputs=("file",), outputs=("out",))
def trajectories(
    file: Annotated[Path, typer.Argument(
        help="A trajectory file from mmpx infer --save-csv (or --save-parquet).", show_default=False)],
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="The PNG to write. Default: FILE with the suffix .png.", show_default=False)] = None,
    track: Annotated[list[int] | None, typer.Option(
        "--track", help="Only this track id; repeat for several. Default: the 8 longest tracks.",
        show_default=False)] = None,
    keypoint: Annotated[list[str] | None, typer.Option(
        "--keypoint", "-k", help="Only this keypoint (its name); repeat or separate by commas. Default: all.",
        show_default=False)] = None,
    all_points: Annotated[bool, typer.Option(
        "--all-points", help="Also draw points below the keypoint threshold (visible 0).")] = False,
) -> None:
    """Plot each track's keypoint paths (image coordinates) and speeds (pixels/s) over time, one row of panels
    per track. Prints the PNG written and what it shows.
    """
    from mmpx.infer.trajectory_plot import plot_trajectories

    names = [k.strip() for value in keypoint or [] for k in value.split(",") if k.strip()]
    result = plot_trajectories(file, out, tracks=track or None, keypoints=names or None,
                               visible_only=not all_points)
    shown = ", ".join(f"{tid}" for _, tid in result.tracks)
    more = f" ({result.left_out} more left out: choose with --track)" if result.left_out else ""
    typer.echo(f"{result.path}: track(s) {shown}{more}; keypoints {', '.join(result.keypoints)}")
