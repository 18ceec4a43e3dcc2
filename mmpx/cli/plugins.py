"""``mmpx plugins``: what is installed, what each plugin adds, and what failed."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._options import JsonOpt
from mmpx.plugins.manager import PluginHost, get_host

app = make_typer(help="List installed plugins and what they add.")

_STATUS_STYLE = {"loaded": "green", "error": "yellow", "failed": "red"}


def plugin_rows(host: PluginHost) -> list[dict]:
    """One dict per plugin: name, version, status, hooks, contributions and errors."""
    contributions: dict[str, list[str]] = {}
    for contrib in host.modules():
        item = contrib.item
        contributions.setdefault(contrib.plugin, []).append(f"{item.registry}:{item.name}")
    for contrib in host.cli_commands():
        contributions.setdefault(contrib.plugin, []).append(f"command:{contrib.name}")
    for contrib in host.converters():
        contributions.setdefault(contrib.plugin, []).append(f"converter:{contrib.name}")
    rows = []
    for info in host.plugins():
        row = info.as_dict()
        row["contributes"] = contributions.get(info.name, [])
        rows.append(row)
    return rows


@app.command("list")
def list_plugins(
    as_json: JsonOpt = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Also import each plugin's modules and check they register what they claim "
            "(imports torch and mmpose: a few seconds).",
        ),
    ] = False,
) -> None:
    """List plugins: name, version, status, hooks, what each adds, and any error.

    Switches: MMPX_DISABLE_PLUGIN_AUTOLOAD=1, MMPX_PLUGINS=a,b (only these), MMPX_BLOCK_PLUGINS=a,b,
    MMPX_TRACE_PLUGINS=1 (print hook calls).
    """
    host = get_host()
    if check:
        from mmpose_ext.plugins import register_plugin_modules

        register_plugin_modules(host)
    rows = plugin_rows(host)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="mmpx plugins", show_lines=False)
    for column in ("plugin", "version", "status", "hooks", "adds", "errors"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "dim")
        name = row["name"] + (" (built-in)" if row["builtin"] else "")
        table.add_row(
            name,
            row["version"] or "",
            f"[{style}]{row['status']}[/{style}]" + (f" ({row['seconds']:.2f} s)" if row["seconds"] >= 0.01 else ""),
            "\n".join(row["hooks"]),
            "\n".join(row["contributes"]),
            "\n".join(row["errors"]),
        )
    Console().print(table)
