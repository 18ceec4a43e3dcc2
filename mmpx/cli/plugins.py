"""``mmpx plugins``: what is installed, what each plugin adds, and what failed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded
from mmpx.cli._options import JsonOpt
from mmpx.cli._output import out_console, report_warning
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
    wide: Annotated[bool, typer.Option("--wide", help="One table, a column per field (needs a wide terminal; "
                                                      "chosen by itself from 160 columns).")] = False,
) -> None:
    """List plugins: name, version, plugin API, status, import time, hooks, what each adds, and any error.

    One block per plugin, wrapped to the terminal; --wide for a table. Switches: MMPX_DISABLE_PLUGIN_AUTOLOAD=1,
    MMPX_PLUGINS=a,b (only these), MMPX_BLOCK_PLUGINS=a,b, MMPX_TRACE_PLUGINS=1 (print hook calls).
    """
    host = get_host()
    if check:
        from mmpose_ext.plugins import register_plugin_modules

        register_plugin_modules(host)
    rows = plugin_rows(host)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    console = out_console()
    if not wide and console.width < WIDE_COLUMNS:
        for line in plugin_blocks(rows, console.width):
            console.print(line, markup=True, highlight=False, soft_wrap=True)
        return
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
    console.print(table)


WIDE_COLUMNS = 160  # the table's eight columns stay readable from here; below, one block per plugin


def plugin_blocks(rows: list[dict], width: int) -> list[str]:
    """``mmpx plugins list`` for a narrow terminal: per plugin a header line, then its hooks, what it adds (by
    kind) and its errors, each wrapped to ``width`` (rich markup for the status colour)."""
    import textwrap

    from rich.markup import escape

    lines = []
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "dim")
        parts = [row["name"] + (" (built-in)" if row["builtin"] else ""), row["version"] or "",
                 f"({row['distribution']})" if row.get("distribution") else "",
                 "" if row["api"] is None else f"api {row['api']}"]
        head = escape(" ".join(p for p in parts if p))
        timing = _timing(row).replace("\n", " ")
        lines.append(f"[bold]{head}[/bold]  [{style}]{row['status']}[/{style}]  import {timing}")
        fields = [("hooks:", ", ".join(row["hooks"]))] if row["hooks"] else []
        fields += [("adds:" if i == 0 else "", f"{kind}: {', '.join(names)}")
                   for i, (kind, names) in enumerate(_by_kind(row["contributes"]))]
        fields += [("error:", error) for error in row["errors"]]
        for label, text in fields:
            more = " " * (11 if label in ("adds:", "") else 9)  # a kind's names run on under its first name
            wrapped = textwrap.wrap(text, width=max(width, 40), initial_indent=f"  {label:<7}",
                                    subsequent_indent=more, break_on_hyphens=False)
            lines += [escape(line) for line in wrapped]
    return lines


def _by_kind(contributes: list[str]) -> list[tuple[str, list[str]]]:
    """``["command:a", "MODELS:X", "command:b"]`` -> ``[("command", ["a", "b"]), ("MODELS", ["X"])]``."""
    kinds: dict[str, list[str]] = {}
    for item in contributes:
        kind, _, name = item.partition(":")
        kinds.setdefault(kind, []).append(name)
    return list(kinds.items())


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
    transform: Annotated[bool, typer.Option("--transform", help="A data transform for pipelines.")] = False,
    dataset: Annotated[bool, typer.Option(
        "--dataset", help="A dataset whose keypoints come from its annotation files.")] = False,
    folder: Annotated[Path | None, typer.Option("--dir", help="Where to write it (default: ./mmpx-plugin-NAME).",
                                                show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace a folder that mmpx plugins new wrote, if nothing in it changed since.",
    )] = False,
) -> None:
    """Start a plugin package: pyproject with the entry point, the hooks, tests that pass as written, a README.

    Without --backbone/--command/--converter/--transform/--dataset it gets all five. Names an installed plugin
    already uses are warned about. Then: pip install -e DIR && pytest DIR (docs/guides/plugins.md walks from here to a
    published package).
    """
    from mmpx.plugins.scaffold import PIECES, Names, installed_clashes, new_plugin

    flags = (backbone, command, converter, transform, dataset)
    chosen = tuple(p for p, on in zip(PIECES, flags, strict=True) if on) or PIECES
    out = folder if folder is not None else Path(Names.of(name).dist)
    clashes = installed_clashes(name, chosen, get_host())
    if clashes:
        report_warning(f"mmpx plugins new {name}: {'; '.join(clashes)}. Installed side by side, the two would "
                       "collide (one is refused or replaces the other); pick another name unless you mean to "
                       "replace it")
    files = new_plugin(name, out, chosen, overwrite=overwrite)
    typer.echo(f"wrote {len(files)} files to {out}:")
    for rel in files:
        typer.echo(f"  {rel}")
    typer.echo(f"next: pip install -e {out} && pytest {out}   (mmpx plugins list shows {name})")
