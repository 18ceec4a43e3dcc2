"""``mmpx doctor``: is this environment able to train, and if not, what fixes it."""

from __future__ import annotations

import json

import typer

from mmpx.cli._options import JsonOpt
from mmpx.cli._output import out_console


def doctor(as_json: JsonOpt = False) -> None:
    """Check versions, compiled mmcv ops, CUDA, compatibility fixes and plugins; exit 1 if something is broken.

    Every problem comes with the one command that fixes it.
    """
    from mmpx.app import doctor as checks

    rows = checks.diagnose()
    if as_json:
        typer.echo(json.dumps(checks.as_json(rows), indent=2))
    else:
        _print(rows)
    if not all(row.ok for row in rows):
        raise typer.Exit(1)


def _print(rows) -> None:
    from rich.table import Table

    console = out_console()
    table = Table(title="mmpx doctor")
    for column in ("", "check", "value", "detail"):
        table.add_column(column, overflow="fold")
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            table.add_section()
            table.add_row("", f"[bold]{section}[/bold]", "", "")
        mark = "[green]ok[/green]" if row.ok else "[red]FAIL[/red]"
        table.add_row(mark, row.name, row.value, row.detail)
    console.print(table)
    problems = [row for row in rows if not row.ok]
    if not problems:
        console.print("[green]All good:[/green] this environment can train, test and export.")
        return
    console.print(f"[red]{len(problems)} problem(s).[/red] To fix:")
    for row in problems:
        console.print(f"  {row.name}: {row.fix or 'see docs/guides/troubleshooting.md'}", highlight=False)
