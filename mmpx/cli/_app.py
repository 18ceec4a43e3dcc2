"""Shared Typer settings for every command group."""

from __future__ import annotations

import typer

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}

# --help sections, in the order a user's work runs
PANEL_DATA = "Data"
PANEL_TRAIN = "Train and evaluate"
PANEL_DEPLOY = "Inference and export"
PANEL_ENV = "Environment"


def make_typer(**kwargs) -> typer.Typer:
    """A ``typer.Typer`` with mmpx's defaults: ``-h``, help when called bare, no locals in tracebacks."""
    kwargs.setdefault("no_args_is_help", True)
    kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
    kwargs.setdefault("pretty_exceptions_enable", False)
    kwargs.setdefault("rich_markup_mode", "rich")
    return typer.Typer(**kwargs)
