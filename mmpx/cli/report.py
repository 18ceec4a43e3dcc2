"""``mmpx report RUN``: one self-contained HTML page about a run (no torch: it reads what the run left)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded

RunArg = Annotated[Path, typer.Argument(
    help="Run folder: the --work-dir of mmpx train or mmpx test (or of mmpx quickstart).", show_default=False)]


@guarded(inputs=("run", "compare", "predictions"), outputs=("out",), writes_inside=("run",))
def report(
    run: RunArg,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="The HTML file to write. Default: RUN/report.html.", show_default=False)] = None,
    compare: Annotated[Path | None, typer.Option(
        "--compare", help="Another run folder, the baseline: curves overlaid, metric changes (this run minus the "
        "baseline), and the instances that got better or worse.", show_default=False)] = None,
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="The results file to show (RUN/predictions/val_results.json or test_results.json, "
        "with its .meta.json). Default: the newest.", show_default=False)] = None,
    by: Annotated[str | None, typer.Option(
        "--by", help="Image field(s) to group by (a,b). Default: Human-Art's group and scenario where the images "
        "tell them, else none.", show_default=False)] = None,
    worst: Annotated[int, typer.Option("--worst", help="Worst cases shown without a filter.", min=1)] = 48,
) -> None:
    """Write one HTML page about a run, with its worst validation cases drawn.

    The page shows the configuration and data, the final metrics, training
    and validation curves, per-keypoint PCK/EPE/OKS AP, left/right swaps,
    per-group tables, and a gallery of the worst cases (ground truth and
    prediction drawn on each instance), filterable by keypoint and group.
    It needs nothing beside it (images are embedded) and makes no network
    request. Its predictions are those mmpx train (the last validation) or
    mmpx test wrote in RUN/predictions/; see docs/guides/report.md.
    """
    from mmpx.atomic import check_writable
    from mmpx.report import build_report

    target = out if out is not None else run / "report.html"
    check_writable(target, "--out")
    fields = [f.strip() for f in by.split(",") if f.strip()] if by else None
    result = build_report(run, target, compare=compare, predictions=predictions,
                          by=fields[0] if fields and len(fields) == 1 else fields, worst=worst)
    for note in result.notes:
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"report: {result.path} ({result.cases} cases, {result.seconds:.1f} s)")

