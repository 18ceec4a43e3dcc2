"""The hooks a plugin can implement (plugin API 1). Each returns a list of records from :mod:`mmpx.plugins.types`.

A plugin module declares ``MMPX_PLUGIN_API = 1``; the host refuses one made for another version. Keep heavy
imports (torch, mmpose) inside the hook or in the module a :class:`ModuleContribution` names: ``mmpx --help``
calls the CLI hooks and must stay fast.

The examples below run as tests (``tests/mmpx/plugins/test_plugins.py``); :func:`mmpx.testing.host_for` builds a host
from in-memory plugins, as a plugin's own unit tests can.
"""

from __future__ import annotations

import pluggy

from mmpx.plugins.types import Command, ConfigFile, DoctorCheck, ModuleContribution

# One name for the pluggy project, the entry-point group and the hooks' prefix (mmpx_*).
PROJECT = "mmpx"
# The plugin API's version: a plugin sets MMPX_PLUGIN_API to it. Raised when a hook's meaning changes.
API_VERSION = 1
hookspec = pluggy.HookspecMarker(PROJECT)
# Marks a plugin's hook functions (@hookimpl above each mmpx_* function of its plugin module).
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mmpx_modules() -> list[ModuleContribution]:
    """Classes for MMPose's registries: backbones, necks, heads, datasets, transforms, metrics, hooks, ...

    The host imports each named module only when a command needs the registries, and checks that the import
    registered the name it promised.

    Examples:
        >>> from mmpx.plugins import ModuleContribution, hookimpl
        >>> from mmpx.testing import host_for
        >>> class MyPlugin:
        ...     MMPX_PLUGIN_API = 1
        ...     @hookimpl
        ...     def mmpx_modules(self):
        ...         return [ModuleContribution("MODELS", "MyNet", "my_plugin.backbone")]
        >>> [(c.plugin, c.item.registry, c.name) for c in host_for(MyPlugin()).modules()]
        [('myplugin', 'MODELS', 'MyNet')]
    """


@hookspec
def mmpx_cli_commands() -> list[Command]:
    """``mmpx`` commands: each a Typer app, a plain annotated function, or a ``"module:name"`` reference (imported
    only when the command is built); top-level, or in a group with ``group=``.

    Examples:
        >>> from mmpx.plugins import Command, hookimpl
        >>> from mmpx.testing import host_for
        >>> def hello(name: str = "world") -> None:
        ...     '''Say hello.'''
        ...     print(f"hello {name}")
        >>> class MyPlugin:
        ...     MMPX_PLUGIN_API = 1
        ...     @hookimpl
        ...     def mmpx_cli_commands(self):
        ...         return [Command("hello", hello)]
        >>> [c.name for c in host_for(MyPlugin()).cli_commands() if c.plugin == "myplugin"]
        ['hello']
    """


@hookspec
def mmpx_converters() -> list[Command]:
    """Dataset converters, shown as ``mmpx convert NAME`` (commands in the group ``convert``); bad input raises
    :class:`mmpx.errors.MmpxError`. A ``"module:name"`` target is imported only when ``mmpx convert`` runs.

    Examples:
        >>> from pathlib import Path
        >>> from mmpx.plugins import Command, hookimpl
        >>> from mmpx.testing import host_for
        >>> def my_format(src: Path, out: Path) -> None:
        ...     '''Convert my format to COCO keypoints.'''
        >>> class MyPlugin:
        ...     MMPX_PLUGIN_API = 1
        ...     @hookimpl
        ...     def mmpx_converters(self):
        ...         return [Command("my-format", my_format)]
        >>> [c.name for c in host_for(MyPlugin()).converters() if c.plugin == "myplugin"]
        ['my-format']
    """


@hookspec
def mmpx_configs() -> list[ConfigFile]:
    """Configs the plugin ships: ``mmpx train NAME`` runs one, ``mmpx configs list`` shows them, and a user's
    config inherits one with ``_base_ = ['mmpx::NAME']``.

    Examples:
        >>> import tempfile
        >>> from pathlib import Path
        >>> from mmpx.plugins import ConfigFile, hookimpl
        >>> from mmpx.testing import host_for
        >>> path = Path(tempfile.mkdtemp()) / "mynet_coco.py"  # in a package: importlib.resources.files(...)
        >>> _ = path.write_text("model = dict(type='TopdownPoseEstimator')\\n")
        >>> class MyPlugin:
        ...     MMPX_PLUGIN_API = 1
        ...     @hookimpl
        ...     def mmpx_configs(self):
        ...         return [ConfigFile("myplugin-mynet-coco", path, "MyNet on COCO")]
        >>> host = host_for(MyPlugin())
        >>> [c.name for c in host.configs() if c.plugin == "myplugin"]
        ['myplugin-mynet-coco']
        >>> host.config_file("myplugin-mynet-coco") == path
        True
    """


@hookspec
def mmpx_doctor_checks() -> list[DoctorCheck]:
    """Health checks of the plugin's own, each a row of ``mmpx doctor``: ``check()`` returns a short value
    when healthy and raises with a message saying what is wrong when not.

    Examples:
        >>> from mmpx.plugins import DoctorCheck, hookimpl
        >>> from mmpx.testing import host_for
        >>> def library_version() -> str:
        ...     import json  # the library the plugin wraps
        ...     return f"json {json.__version__}"
        >>> class MyPlugin:
        ...     MMPX_PLUGIN_API = 1
        ...     @hookimpl
        ...     def mmpx_doctor_checks(self):
        ...         return [DoctorCheck("json", library_version, fix="pip install json")]
        >>> [(row.name, row.ok, row.value) for row in host_for(MyPlugin()).run_doctor_checks()]
        [('myplugin: json', True, 'json 2.0.9')]
    """
