"""``mmpx configs``: the configs mmpose-ext and its plugins ship, by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded
from mmpx.cli._options import JsonOpt, metainfo_file
from mmpx.cli._output import out_console

app = make_typer(help="List shipped configs (mmpose-ext's and plugins'), print the file of one, copy one, or write a "
                      "new one for any keypoint set.")

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


@app.command("new")
@guarded(inputs=("data", "metainfo", "images", "load_from"), outputs=("out",))
def new(
    data: Annotated[Path, typer.Option("--data", help="A dataset folder as mmpx convert writes it (annotations/"
                                       "train.json, val.json, images/, metainfo.py), or one COCO keypoint .json "
                                       "(then --metainfo).", show_default=False)],
    out: Annotated[Path, typer.Option("--out", help="The config file to write (.py).", show_default=False)],
    model: Annotated[str, typer.Option("--model", help="Top-down: rtmpose-t, rtmpose-s, rtmpose-m (SimCC) or "
                                       "heatmap-resnet50 (SimpleBaseline heatmaps); one-stage on whole images: "
                                       "rtmo-t, rtmo-s (RTMO); bottom-up: dekr-hrnet-w32 (DEKR). Whole-image models "
                                       "need every instance of an image labelled (docs/guides/one-stage.md).")
                 ] = "rtmpose-t",
    metainfo: Annotated[Path | None, typer.Option("--metainfo", help="Metainfo .py (default: DATA/metainfo.py); "
                                                  "mmpx metainfo from-coco ANN.json M.py makes one.",
                                                  callback=metainfo_file)] = None,
    images: Annotated[Path | None, typer.Option("--images", help="Folder the file_name entries are under "
                                                "(default: DATA/images, or the .json's folder).")] = None,
    input_size: Annotated[str, typer.Option("--input-size", help="auto (top-down: from the train boxes' shape; "
                                            "RTMO 640, DEKR 512) or WxH, multiples of 32; whole-image models take "
                                            "a square N or NxN.")] = "auto",
    epochs: Annotated[str, typer.Option("--epochs", help="auto (scaled to the dataset's size) or a number.")] = "auto",
    load_from: Annotated[Path | None, typer.Option("--load-from", help="Checkpoint to start from (load_from).")] = None,
    flip: Annotated[str, typer.Option("--flip", help="Horizontal flip augmentation and flip test: auto (when the "
                                      "metainfo pairs left/right keypoints), yes or no.")] = "auto",
    visibility: Annotated[bool, typer.Option("--visibility", help="The head also predicts, per keypoint, the "
                                             "probability that it is seen (labelled v=2) rather than hidden (v=1: "
                                             "labelme's _occluded suffix or flag); top-down models "
                                             "(docs/guides/visibility.md).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT if it exists.")] = False,
) -> None:
    """Write a complete, commented training config for any keypoint set: input size from the boxes' shape, head
    channels and flip from the metainfo, schedule from the dataset's size (docs/guides/configs.md); or a
    one-stage (RTMO) or bottom-up (DEKR) config on whole images (docs/guides/one-stage.md).

    The config is loaded, built and preflighted before it is written; train it with mmpx train OUT.
    """
    import shlex
    import sys

    from mmpx.app.configs_new import ConfigsNewRequest, configs_new

    command = "mmpx configs new " + shlex.join(sys.argv[sys.argv.index("new") + 1:] if "new" in sys.argv else [])
    done = configs_new(ConfigsNewRequest(data, model, out, metainfo, images, input_size, epochs, load_from, flip,
                                         overwrite, command, visibility=visibility))
    p = done.plan
    typer.echo(f"wrote {out}: {p.model}, {len(p.names)} keypoints ({p.pairs} left/right pairs, flip "
               f"{'on' if p.flip else 'off'}), input {p.input_size[0]}x{p.input_size[1]}, {p.epochs} epochs of "
               f"{p.steps_per_epoch} step(s) at batch {p.batch}"
               f"{', visibility head' if p.visibility else ''}; preflight passed")
    typer.echo(f"train it: mmpx train {out}")
