"""``mmpx check data``: check annotations, images and metainfo before training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._options import JsonOpt, MaxRowsOpt, metainfo_file
from mmpx.cli._output import out_console, report_warning

app = make_typer(help="Check a dataset before training: annotations, images and metainfo.")


@app.command("data")
def data(
    ann: Annotated[Path, typer.Argument(help="COCO keypoint JSON (or an MPII-style JSON list).",
                                        show_default=False)],
    images: Annotated[
        Path | None,
        typer.Option("--images", help="Folder that file_name is relative to: open and decode every image and "
                     "compare its size with width/height."),
    ] = None,
    metainfo: Annotated[
        Path | None,
        typer.Option("--metainfo", help="MMPose metainfo .py file: validate it and take the keypoint count "
                     "and names from it (default: each category's keypoints).", callback=metainfo_file),
    ] = None,
    as_json: JsonOpt = False,
    max_rows: MaxRowsOpt = 50,
) -> None:
    """Find missing or corrupt images, bad ids, boxes and keypoints, and metainfo mismatches.

    Exit code 1 when there are errors, 0 with only warnings.
    """
    from mmpx.atomic.stale import recover_missing
    from mmpx.check import check_data_report
    from mmpx.errors.problems import print_table

    for note in recover_missing([p for p in (ann, images, metainfo) if p is not None]):
        report_warning(note)  # a dataset a crashed conversion moved aside is put back before it is read
    if as_json:
        report = check_data_report(ann, images, metainfo)
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        from rich.progress import Progress

        console = out_console()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("checking images", total=None)
            report = check_data_report(
                ann, images, metainfo,
                on_image=lambda done, total: progress.update(task, completed=done, total=total))
        if report.problems:
            print_table(report.problems, f"mmpx check data: {ann}", max_rows, console)
        for note in report.notes:
            console.print(f"note: {note}", highlight=False)
        style = "red" if report.errors else "yellow" if report.warnings else "green"
        console.print(f"[{style}]{report.summary()}[/{style}]", highlight=False)
    if report.errors:
        raise typer.Exit(1)
