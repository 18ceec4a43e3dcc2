"""Shared Typer settings for every command group."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

# --help sections, in the order a user's work runs
PANEL_DATA = "Data"
PANEL_TRAIN = "Train and evaluate"
PANEL_DEPLOY = "Inference and export"
PANEL_ENV = "Environment"
PANEL_PLUGINS = "Plugins"
PANEL_ORDER = (PANEL_DATA, PANEL_TRAIN, PANEL_DEPLOY, PANEL_ENV, PANEL_PLUGINS)


class PanelOrderedGroup(TyperGroup):
    """Lists commands panel by panel in the order of a user's work (Typer would put groups after commands)."""

    def list_commands(self, ctx) -> list[str]:
        def rank(name: str) -> tuple[int, str]:
            panel = getattr(self.commands[name], "rich_help_panel", None)
            return (PANEL_ORDER.index(panel) if panel in PANEL_ORDER else len(PANEL_ORDER), name)

        return sorted(super().list_commands(ctx), key=rank)


def make_typer(**kwargs) -> typer.Typer:
    """A ``typer.Typer`` with mmpx's defaults: ``-h``, help when called bare, no locals in tracebacks."""
    kwargs.setdefault("no_args_is_help", True)
    kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
    kwargs.setdefault("pretty_exceptions_enable", False)
    kwargs.setdefault("rich_markup_mode", "rich")
    return typer.Typer(**kwargs)
