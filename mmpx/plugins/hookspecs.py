"""The hooks a plugin can implement. Each returns a list of records from :mod:`mmpx.plugins.types`.

Keep heavy imports (torch, mmpose) inside the hook or in the module a :class:`ModuleContribution` names:
``mmpx --help`` calls the CLI hooks and must stay fast.
"""

from __future__ import annotations

import pluggy

from mmpx.plugins.types import CliCommand, Converter, ModuleContribution

PROJECT = "mmpose_ext"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mmpx_modules() -> list[ModuleContribution]:
    """Classes for MMPose's registries: backbones, necks, heads, datasets, transforms, metrics, hooks, ..."""


@hookspec
def mmpx_cli_commands() -> list[CliCommand]:
    """Top-level ``mmpx`` commands."""


@hookspec
def mmpx_converters() -> list[Converter]:
    """Dataset converters, shown as ``mmpx convert NAME``."""
