"""Records that plugins return from contribution hooks (frozen, so a plugin cannot change them later)."""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

if typing.TYPE_CHECKING:
    import typer

# What a command may be: a Typer app, a plain annotated function, or a "package.module:name" reference to one.
CommandLike = Union["typer.Typer", Callable[..., Any], str]

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


# Command groups a plugin may add to: ``Command(..., group="convert")`` is ``mmpx convert NAME``.
GROUPS = ("convert",)


@dataclass(frozen=True)
class Command:
    """A command: ``mmpx NAME``, or ``mmpx GROUP NAME`` in a ``group`` (``"convert"``: a dataset converter).

    Args:
        name: the command name, e.g. ``"wings-info"``, or ``"wings-csv"`` for ``mmpx convert wings-csv``.
        target: a ``typer.Typer`` (a command group) or a plain function whose annotated parameters Typer turns
            into options; never a Click object (Typer vendors its own Click). Or ``"package.module:name"`` naming
            one: the module is imported only when that command (or a ``--help`` listing it) is built, which
            keeps the start-up of every other command free of it. A converter raises
            :class:`mmpx.errors.MmpxError` on bad input.
        help: one line for ``--help``; defaults to the function's docstring.
        panel: the ``mmpx --help`` section a top-level command is listed under.
        group: ``None`` for a top-level command, or one of :data:`GROUPS`; ``mmpx_converters`` puts its records
            in ``"convert"``.
    """

    name: str
    target: CommandLike
    help: str | None = None
    panel: str = "Plugins"
    group: str | None = None

    def __post_init__(self) -> None:
        if self.group is not None and self.group not in GROUPS:
            raise ValueError(f"unknown command group {self.group!r}; expected None or one of {', '.join(GROUPS)}")

    def resolve(self) -> typer.Typer | Callable[..., Any]:
        """The command itself (a ``"module:name"`` reference imported now)."""
        if not isinstance(self.target, str):
            return self.target
        import importlib

        module, _, attr = self.target.partition(":")
        if not module or not attr:
            raise TypeError(f"{self.name}: a command reference is 'package.module:name', got {self.target!r}")
        return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class ConfigFile:
    """A config a plugin ships: ``mmpx train NAME`` runs it, ``mmpx configs list`` shows it, and a user's
    config inherits it with ``_base_ = ['mmpx::NAME']``.

    Args:
        name: the config's name; start it with the plugin's name (``transformers-convnext-rtmcc-carpose``).
        path: the installed file, e.g. ``importlib.resources.files('my_plugin') / 'configs' / 'x.py'``
            (ship the folder as package data).
        summary: one line for ``mmpx configs list``.
    """

    name: str
    path: Path
    summary: str = ""

    def __post_init__(self) -> None:
        if not self.name or "/" in self.name or "::" in self.name or self.name.endswith(".py"):
            raise ValueError(f"config name {self.name!r}: a plain name such as 'myplugin-net-coco' "
                             "(no '/', '::' or '.py')")
        object.__setattr__(self, "path", Path(str(self.path)))


@dataclass(frozen=True)
class DoctorCheck:
    """A health check of a plugin's own, shown as a row of ``mmpx doctor``.

    Args:
        name: the row's name, e.g. ``"transformers"``.
        check: returns a short value when healthy (``"5.24.0, AutoBackbone builds"``); raises an exception whose
            message says what is wrong when not. Runs after ``import mmpose_ext``, in a fresh process.
        fix: the one command that mends a failure, e.g. ``pip install "transformers>=5,<6"``.
    """

    name: str
    check: Callable[[], str]
    fix: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one :class:`DoctorCheck`: ``name`` is ``"PLUGIN: CHECK"``."""

    name: str
    ok: bool
    value: str
    detail: str = ""
    fix: str | None = None


Record = ModuleContribution | Command | ConfigFile | DoctorCheck


@dataclass(frozen=True)
class Contribution:
    """One record, tagged with the plugin that contributed it."""

    plugin: str
    item: Record

    @property
    def name(self) -> str:
        return self.item.name
