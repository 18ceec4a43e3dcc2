"""The plugin host: third-party packages extend mmpose-ext through pluggy hooks and entry points.

A plugin is a module (or object) named by an entry point in the ``mmpose_ext`` group, with functions marked by
:data:`hookimpl`. See ``docs/plugins.md`` for every hook and ``plugins/mmpx-plugin-example`` for a package.
"""

from mmpx.plugins.hookspecs import hookimpl, hookspec
from mmpx.plugins.manager import PluginHost, PluginInfo, get_host, load_plugins
from mmpx.plugins.types import CliCommand, Contribution, Converter, ModuleContribution

__all__ = [
    "hookimpl",
    "hookspec",
    "PluginHost",
    "PluginInfo",
    "get_host",
    "load_plugins",
    "CliCommand",
    "Contribution",
    "Converter",
    "ModuleContribution",
]
