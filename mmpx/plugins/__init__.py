"""The plugin host: third-party packages extend mmpose-ext through pluggy hooks and entry points.

A plugin is a module (or object) named by an entry point in the ``mmpx`` group, declaring ``MMPX_PLUGIN_API = 1``
(:data:`API_VERSION`), with functions marked by :data:`hookimpl` that return records: :class:`Command` for every
command (top-level or in a group such as ``convert``), :class:`ModuleContribution`, :class:`ConfigFile` and
:class:`DoctorCheck`. See ``docs/guides/plugins.md`` for every hook and ``plugins/`` for two packages;
:mod:`mmpx.testing` has helpers for a plugin's tests.
"""

from mmpx.plugins.hookspecs import API_VERSION, hookimpl, hookspec
from mmpx.plugins.manager import PluginHost, PluginInfo, get_host, load_plugins
from mmpx.plugins.types import (
    CheckResult,
    Command,
    ConfigFile,
    Contribution,
    DoctorCheck,
    ModuleContribution,
)

__all__ = [
    "API_VERSION",
    "hookimpl",
    "hookspec",
    "PluginHost",
    "PluginInfo",
    "get_host",
    "load_plugins",
    "CheckResult",
    "Command",
    "ConfigFile",
    "Contribution",
    "DoctorCheck",
    "ModuleContribution",
]
