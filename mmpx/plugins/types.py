"""Records that plugins return from contribution hooks (frozen, so a plugin cannot change them later)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# MMPose registries a plugin may add to (the names of the objects in ``mmpose.registry``).
REGISTRIES = (
    "MODELS",
    "DATASETS",
    "DATA_SAMPLERS",
    "TRANSFORMS",
    "METRICS",
    "EVALUATORS",
    "HOOKS",
    "KEYPOINT_CODECS",
    "VISUALIZERS",
    "OPTIMIZERS",
    "PARAM_SCHEDULERS",
)


@dataclass(frozen=True)
class ModuleContribution:
    """Classes that importing ``module`` registers into one of MMPose's registries.

    The host imports ``module`` only when a command needs the registries (``mmpx train``), so listing plugins
    stays fast. ``name`` is the ``type=`` a config uses; the host checks that the import really registered it.

    Args:
        registry: one of :data:`REGISTRIES`, e.g. ``"MODELS"`` for backbones, necks and heads.
        name: the registered type name, e.g. ``"ExampleTinyNet"``.
        module: importable module whose import registers ``name``; also what ``custom_imports`` names to use
            the class from MMPose's own tools.
    """

    registry: str
    name: str
    module: str

    def __post_init__(self) -> None:
        if self.registry not in REGISTRIES:
            raise ValueError(f"unknown registry {self.registry!r}; expected one of {', '.join(REGISTRIES)}")


@dataclass(frozen=True)
class CliCommand:
    """A top-level ``mmpx NAME`` command.

    Args:
        name: the command name.
        command: a ``typer.Typer`` (a command group) or a plain function whose annotated parameters Typer turns
            into options; never a Click object (Typer vendors its own Click). Or ``"package.module:name"`` naming
            one: the module is imported only when that command (or ``--help``) is built, which keeps the start-up
            of every other command free of it.
        help: one line for ``mmpx --help``; defaults to the function's docstring.
        panel: the ``--help`` section it is listed under.
    """

    name: str
    command: Any
    help: str | None = None
    panel: str = "Plugins"

    def resolve(self) -> Any:
        """The command itself (a ``"module:name"`` reference imported now)."""
        if not isinstance(self.command, str):
            return self.command
        import importlib

        module, _, attr = self.command.partition(":")
        if not module or not attr:
            raise TypeError(f"{self.name}: a command reference is 'package.module:name', got {self.command!r}")
        return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Converter:
    """A dataset converter, mounted as ``mmpx convert NAME``.

    Args:
        name: the sub-command name, e.g. ``"labelme"``.
        function: a plain function with annotated parameters (source, output folder, options) that Typer turns
            into the command; it raises :class:`mmpx.errors.MmpxError` on bad input.
        help: one line for ``mmpx convert --help``; defaults to the docstring.
    """

    name: str
    function: Callable[..., Any]
    help: str | None = None


@dataclass(frozen=True)
class Contribution:
    """One record, tagged with the plugin that contributed it."""

    plugin: str
    item: Any

    @property
    def name(self) -> str:
        return self.item.name
