"""``mmpx compare A.json B.json``: two metric files side by side, with deltas."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._output import report_warning
from mmpx.errors import MmpxError

MetricsArg = Annotated[Path, typer.Argument(help="Metrics JSON file.", show_default=False)]


@guarded(inputs=("a", "b"), outputs=("markdown", "json_out"))
def compare(
    a: MetricsArg,
    b: MetricsArg,
    names: Annotated[str | None, typer.Option("--names", help="Column names A,B (default: the file names).")] = None,
    keys: Annotated[
        str | None, typer.Option("--keys", help="Only metrics matching these globs, comma-separated: '*/coco/AP'.")
    ] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown", help="Also write the table as Markdown.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the rows as JSON.")] = None,
    fail_below: Annotated[
        list[str] | None,
        typer.Option("--fail-below", help="METRIC=DELTA: exit 1 if B - A of METRIC is below DELTA (repeatable).",
                     show_default=False),
    ] = None,
) -> None:
    """Compare two metric files (mmpx test --out, mmpx eval --out, any metrics JSON): B - A for each metric.

    Metrics only one file has are listed with '-' on the other side.
    """
    from mmpx.evaluation import tables as report

    label_a, label_b = _labels(a, b, names)
    patterns = keys.split(",") if keys else None
    metrics_a, metrics_b = (report.select(report.load_metrics(path), patterns) for path in (a, b))
    rows = report.compare(metrics_a, metrics_b)
    if not rows:
        raise MmpxError(f"no metric matches --keys {keys!r} in {a} or {b}", "see the keys with no --keys")
    report.print_compare(rows, (label_a, label_b))
    if not any(r.a is not None and r.b is not None for r in rows):
        pairs = report.closest_names(report.flatten(metrics_a), report.flatten(metrics_b))
        hint = f"; closest: {', '.join(f'{x!r} ~ {y!r}' for x, y in pairs)}" if pairs else ""
        report_warning(f"no metric name of {label_a} matches one of {label_b}: nothing is compared{hint} "
                       "(rename the keys in one file to compare them)")
    if markdown is not None:
        report.write_compare_markdown(rows, markdown, (label_a, label_b), title=f"{label_a} vs {label_b}")
    if json_out is not None:
        from mmpx.atomic import write_json

        write_json(json_out, dict(a=str(a), b=str(b), names=[label_a, label_b], rows=[r.as_dict() for r in rows]))
    failures = report.check_deltas(rows, _limits(fail_below or []))
    if failures:
        raise MmpxError("; ".join(failures), "the --fail-below limits were not met")


def _labels(a: Path, b: Path, names: str | None) -> tuple[str, str]:
    if names:
        parts = [n.strip() for n in names.split(",")]
        if len(parts) != 2 or not all(parts):
            raise MmpxError(f"--names {names!r}: give two names, e.g. --names published,ours")
        return parts[0], parts[1]
    if a.name != b.name:
        return a.name, b.name
    return str(a), str(b)


def _limits(specs: list[str]) -> dict[str, float]:
    limits = {}
    for spec in specs:
        key, sep, value = spec.rpartition("=")
        try:
            limits[key] = float(value)
        except ValueError:
            sep = ""
        if not sep or not key:
            raise MmpxError(f"--fail-below {spec!r}: expected METRIC=DELTA", "e.g. --fail-below coco/AP=-0.01")
    return limits
