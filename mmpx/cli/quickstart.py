"""``mmpx quickstart``: from nothing to a trained, tested car-keypoint model on the CPU, with a report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._output import err_console, out_console


@guarded(outputs=("work_dir",))
def quickstart(
    work_dir: Annotated[
        Path, typer.Option("--work-dir", help="Folder for everything it makes; an earlier quickstart's is replaced.")
    ] = Path("work_dirs/quickstart"),
    images: Annotated[int, typer.Option("--images", help="Synthetic images to draw (80% train, 20% val).",
                                        min=20)] = 1000,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Training epochs (default: the config's, which meets the target).",
                                 min=1, show_default=False)
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the data, the split and training.")] = 0,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu or cuda (default: cuda when available).", show_default=False)
    ] = None,
) -> None:
    """Synthesise a car-keypoint dataset, convert it, check it, train a small model on it, test it, plot the run
    and draw predictions, then print a report.

    The same stages as [bold]mmpx data synth carpose[/bold], [bold]mmpx convert labelme[/bold],
    [bold]mmpx check data[/bold], [bold]mmpx train[/bold] and [bold]mmpx test[/bold]. About 4 to 5 minutes on a
    2-core CPU; PCK@0.05 (bbox) of 0.9 or more on the synthetic validation split (docs/guides/quickstart.md).
    """
    from mmpx.app.quickstart import run_quickstart

    console = err_console(plain=False)
    report = run_quickstart(work_dir, images=images, epochs=epochs, seed=seed, device=device,
                            log=lambda line: console.print(line, style="bold cyan", highlight=False, markup=False))
    _print_report(report)


def _print_report(report) -> None:
    from rich.table import Table

    table = Table(title="mmpx quickstart", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")  # paths wrap rather than lose their end
    m = report.metrics
    table.add_row("PCK@0.05 (bbox)", f"{m.get('PCK', float('nan')):.3f}")
    table.add_row("COCO keypoint AP", f"{m.get('coco/AP', float('nan')):.3f}")
    table.add_row("data", f"{report.data['train']['instances']} train / {report.data['val']['instances']} val cars, "
                  f"8 keypoints each")
    times = ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items() if k != "total")
    table.add_row("time", f"{report.seconds['total']:.0f} s ({times})")
    if report.training.get("seconds_per_iter"):
        table.add_row("training", f"{report.training['iterations']} iterations, median "
                      f"{report.training['seconds_per_iter']:.3f} s/iter (this machine's speed)")
    for name in ("report", "checkpoint", "metrics", "loss_plot", "val_plot", "contact_sheet", "config", "data"):
        if name in report.paths:
            table.add_row(name.replace("_", " "), report.paths[name])
    out_console().print(table)
