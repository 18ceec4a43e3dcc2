"""``mmpx plugins``: what is installed, what each plugin adds, and what failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded
from mmpx.cli._options import JsonOpt
from mmpx.plugins.manager import PluginHost, get_host

app = make_typer(help="List installed plugins and what they add, or start a new plugin package.")

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
    for contrib in host.configs():
        contributions.setdefault(contrib.plugin, []).append(f"config:{contrib.name}")
    for contrib in host.doctor_checks():
        contributions.setdefault(contrib.plugin, []).append(f"doctor:{contrib.name}")
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
    """List plugins: name, version, plugin API, status, import time, hooks, what each adds, and any error.

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
    for column in ("plugin", "version", "api", "status", "import", "hooks", "adds", "errors"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "dim")
        name = row["name"] + (" (built-in)" if row["builtin"] else "")
        table.add_row(
            name,
            row["version"] or "",
            "" if row["api"] is None else str(row["api"]),
            f"[{style}]{row['status']}[/{style}]",
            _timing(row),
            "\n".join(row["hooks"]),
            "\n".join(row["contributes"]),
            "\n".join(row["errors"]),
        )
    Console().print(table)


def _timing(row: dict) -> str:
    """Import time of the entry point (every command pays it) and of the registry modules (train, test, ...)."""
    text = f"{row['import_seconds']:.2f} s"
    if row["modules_seconds"]:
        text += f"\n+ {row['modules_seconds']:.2f} s modules"
    return text


@app.command("new")
@guarded(outputs=("folder",))
def new(
    name: Annotated[str, typer.Argument(help="The plugin's name, e.g. wings (package mmpx-plugin-wings).",
                                        show_default=False)],
    backbone: Annotated[bool, typer.Option("--backbone", help="A backbone (backbone protocol) and a config.")] = False,
    command: Annotated[bool, typer.Option("--command", help="A command: mmpx NAME-info.")] = False,
    converter: Annotated[bool, typer.Option("--converter", help="A converter: mmpx convert NAME-csv.")] = False,
    folder: Annotated[Path | None, typer.Option("--dir", help="Where to write it (default: ./mmpx-plugin-NAME).",
                                                show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a folder that mmpx plugins new wrote, if nothing in it changed since.",
    )] = False,
) -> None:
    """Start a plugin package: pyproject with the entry point, the hooks, tests that pass as written, a README.

    Without --backbone/--command/--converter it gets all three. Then: pip install -e DIR && pytest DIR
    (docs/plugins.md walks from here to a published package).
    """
    from mmpx.plugins.scaffold import PIECES, Names, new_plugin

    chosen = tuple(p for p, on in zip(PIECES, (backbone, command, converter), strict=True) if on) or PIECES
    out = folder if folder is not None else Path(Names.of(name).dist)
    files = new_plugin(name, out, chosen, overwrite=overwrite)
    typer.echo(f"wrote {len(files)} files to {out}:")
    for rel in files:
        typer.echo(f"  {rel}")
    typer.echo(f"next: pip install -e {out} && pytest {out}   (mmpx plugins list shows {name})")
