"""Puts the plugin host's commands on the ``mmpx`` app, mmpx's own and plugins' alike: one loop, for the top level
and for each command group (``mmpx convert NAME``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from mmpx.cli._app import PANEL_DATA, make_typer
from mmpx.plugins.manager import PluginHost
from mmpx.plugins.types import GROUPS, Contribution

# each command group's (mmpx.plugins.types.GROUPS) help and its section of mmpx --help
GROUP_HELP = {"convert": ("Convert datasets to COCO keypoints plus an MMPose metainfo file.", PANEL_DATA)}
REPORTING = ("plugins", "doctor")  # they report every contribution's health: every one must be probed


def mount_commands(app: typer.Typer, host: PluginHost, command: str | None = None) -> None:
    """Mount the host's commands on ``app``.

    With ``command`` (the name the user typed) only that command or group is mounted, when it is one: a
    ``"module:name"`` target is imported, and Typer turns a signature into click parameters, only for what is
    mounted. Otherwise (a root flag, ``--help``, an unknown name, ``plugins``/``doctor``), every one.
    """
    commands = host.commands()
    only = command if command in {c.item.group or c.name for c in commands} and command not in REPORTING else None
    mount(app, [c for c in commands if c.item.group is None and only in (None, c.name)], host)
    for group in GROUPS:
        members = [c for c in commands if c.item.group == group]
        if only not in (None, group) or not members:
            continue
        help, panel = GROUP_HELP[group]
        sub = make_typer(help=help)
        if mount(sub, members, host):
            app.add_typer(sub, name=group, rich_help_panel=panel)


def mount(app: typer.Typer, contributions: list[Contribution], host: PluginHost) -> int:
    """Add each contributed command to ``app`` (a group's commands keep its default help section); returns how
    many were added."""
    mounted = 0
    for contrib in contributions:
        cmd, target = contrib.item, _resolve(contrib, host)
        if target is None:
            continue
        panel = {"rich_help_panel": cmd.panel} if cmd.group is None else {}
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=cmd.name, help=cmd.help, **panel)
        else:
            app.command(name=cmd.name, help=cmd.help, **panel)(target)
        mounted += 1
    return mounted


def _resolve(contrib: Contribution, host: PluginHost) -> typer.Typer | Callable[..., Any] | None:
    """The command's target; None for a plugin's that Typer cannot use (recorded on the plugin). mmpx's own
    commands are tested, so they are not probed."""
    cmd = contrib.item
    if host.is_builtin(contrib.plugin):
        return cmd.resolve()
    try:
        target = cmd.resolve()
        _mountable(cmd.name, target, cmd.help)
    except Exception as exc:
        hook = "mmpx_converters" if cmd.group == "convert" else "mmpx_cli_commands"
        host.record_error(contrib.plugin, f"{hook}: {cmd.name}: {type(exc).__name__}: {exc}")
        return None
    return target


def _mountable(name: str, command, help: str | None) -> typer.Typer:
    """A one-command app, so that a plugin's unusable function fails here (recorded) and not at ``app()``."""
    probe = make_typer()
    if isinstance(command, typer.Typer):
        probe.add_typer(command, name=name, help=help)
    elif callable(command):
        probe.command(name=name, help=help)(command)
    else:
        raise TypeError(f"{name}: expected a typer.Typer or a function, got {type(command).__name__}")
    typer.main.get_command(probe)
    return probe
