"""``mmpx configs``: the configs mmpose-ext and its plugins ship, by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded
from mmpx.cli._options import JsonOpt
from mmpx.cli._output import out_console

app = make_typer(help="List shipped configs (mmpose-ext's and plugins'), print the file of one, or copy one.")

NameArg = Annotated[str, typer.Argument(help="A shipped config's name (mmpx configs list).", show_default=False)]


@app.command("list")
def list_configs(as_json: JsonOpt = False) -> None:
    """List the configs mmpose-ext and its plugins ship: name, plugin, summary, file.

    Train one by name (mmpx train NAME), inherit one in your config with _base_ = ['mmpx::NAME'] (under mmpx
    train, test, export, browse, infer), or copy one for MMPose's own tools (mmpx configs dump NAME OUT.py).
    """
    from mmpx.plugins.manager import get_host

    rows = [dict(name=c.name, plugin=c.plugin, summary=c.item.summary, path=str(c.item.path))
            for c in get_host().configs()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table(title="mmpx configs")
    for column in ("name", "plugin", "summary", "file"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row["name"], row["plugin"], row["summary"], row["path"])
    out_console().print(table)


def shipped_config(name: str) -> Path:
    """The file of the shipped config ``name``; a :class:`ConfigError` listing close names when there is none."""
    from mmpx.configs.names import resolve_config_name

    return resolve_config_name(name)


@app.command("path")
def path(name: NameArg) -> None:
    """Print the file of a shipped config (for _base_ in a config run by MMPose's own tools)."""
    typer.echo(str(shipped_config(name)))


@app.command("dump")
@guarded(outputs=("out",))
def dump(
    name: NameArg,
    out: Annotated[Path, typer.Argument(help="The file to write (.py).", show_default=False)],
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
) -> None:
    """Write a shipped config with everything it inherits merged in: one file that MMPose's own
    tools/train.py runs as is, and that you can edit."""
    from mmpx.atomic import check_writable, write_text
    from mmpx.errors import ConfigError

    if out.suffix != ".py":
        raise ConfigError(f"{out}: a config file ends in .py", f"e.g. {out.with_suffix('.py')}")
    if out.exists() and not overwrite:
        raise ConfigError(f"{out} exists", "add --overwrite to replace it")
    check_writable(out, "OUT")
    from mmpose_ext.config import load_config

    cfg = load_config(shipped_config(name))
    write_text(out, f"# mmpx configs dump {name}: {shipped_config(name)} with its bases merged in\n"
                      + cfg.pretty_text + "\n")
    typer.echo(f"wrote {out}")
