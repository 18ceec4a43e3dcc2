"""Discovers plugins, loads each one on its own, and exposes their contributions through a typed facade.

A plugin that fails to import, registers invalid hooks, raises in a hook or contributes a duplicate name is
recorded with its error and left out; it never takes ``mmpx`` down.

Environment switches (in the manner of pytest and tox):

- ``MMPX_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugin, except those named in ``MMPX_PLUGINS``.
- ``MMPX_PLUGINS=a,b``: load only these entry-point plugins.
- ``MMPX_BLOCK_PLUGINS=a,b``: never load these.
- ``MMPX_TRACE_PLUGINS=1``: print every hook call to stderr.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.metadata
import os
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from mmpx.plugins import hookspecs
from mmpx.plugins.isolation import UserInterrupt, isolated, short_error
from mmpx.plugins.types import CheckResult, Command, ConfigFile, Contribution, DoctorCheck, ModuleContribution

ENTRY_POINT_GROUP = hookspecs.PROJECT
# The group's former name, still read (with a warning naming the plugin) until the next release.
OLD_ENTRY_POINT_GROUP = "mmpose_ext"
# Hooks whose records go in a command group without naming it.
_HOOK_GROUPS = {"mmpx_converters": "convert"}
# mmpose-ext's own commands, loaded by name through the same hooks as third-party plugins (the core never
# imports the command line; it only knows the module's name, as it knows entry points').
BUILTIN_PLUGINS = ("mmpx.cli.builtin",)


@dataclass
class PluginInfo:
    """What ``mmpx plugins list`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    status: str = "loaded"  # loaded | error | failed | blocked | not-allowed | disabled
    api: int | None = None  # the MMPX_PLUGIN_API it declares
    import_seconds: float = 0.0  # importing the entry point (paid by every mmpx command)
    modules_seconds: float = 0.0  # importing its registry modules (paid by train, test, export, ...)
    seconds: float = 0.0  # all of it: import, hooks and registry modules
    errors: list[str] = field(default_factory=list)
    hooks: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_OFF = ("", "0", "false", "no", "off")


def env_flag(value: str | None) -> bool:
    """An on/off environment switch: unset, empty, ``0``, ``false``, ``no`` and ``off`` (any case) are off."""
    return value is not None and value.strip().lower() not in _OFF


def _names(value: str | None) -> set[str]:
    return {n.strip() for n in (value or "").split(",") if n.strip()}


class PluginHost:
    """The loaded plugins. Use :func:`get_host` rather than building one."""

    def __init__(self, pm: pluggy.PluginManager, infos: list[PluginInfo]) -> None:
        self.warnings: list[str] = []  # about the environment switches, shown by main() and `mmpx plugins list`
        self._pm = pm
        self._infos = {info.name: info for info in infos}
        self._cache: dict[str, list[Contribution]] = {}

    def plugins(self) -> list[PluginInfo]:
        """Every plugin seen, loaded or not, sorted with built-ins first."""
        return sorted(self._infos.values(), key=lambda i: (not i.builtin, i.name))

    def modules(self) -> list[Contribution]:
        """Registry classes (:class:`~mmpx.plugins.types.ModuleContribution`), tagged with their plugin."""
        return self._collect("mmpx_modules", ModuleContribution, key=lambda item: (item.registry, item.name))

    def commands(self) -> list[Contribution]:
        """Every command (:class:`~mmpx.plugins.types.Command`), top-level and in groups, from
        ``mmpx_cli_commands`` and ``mmpx_converters`` (whose records are in the group ``convert``)."""
        return self._collect(("mmpx_cli_commands", "mmpx_converters"), Command,
                             key=lambda item: (item.group or "", item.name), label=lambda item: item.name)

    def cli_commands(self) -> list[Contribution]:
        """Top-level commands (:class:`~mmpx.plugins.types.Command` without a group)."""
        return [c for c in self.commands() if c.item.group is None]

    def converters(self) -> list[Contribution]:
        """Dataset converters: the commands in the group ``convert``."""
        return [c for c in self.commands() if c.item.group == "convert"]

    def configs(self) -> list[Contribution]:
        """Shipped configs (:class:`~mmpx.plugins.types.ConfigFile`); one whose file is missing is left out
        and recorded on its plugin."""
        found = []
        for contrib in self._collect("mmpx_configs", ConfigFile):
            if contrib.item.path.is_file():
                found.append(contrib)
            elif not any(contrib.name in e for e in self._infos[contrib.plugin].errors):
                self.record_error(contrib.plugin, f"mmpx_configs: {contrib.name!r} names {contrib.item.path}, "
                                                  "which is not a file (ship configs as package data)")
        return found

    def config_file(self, name: str) -> Path | None:
        """The file of the shipped config ``name``, or None."""
        return next((c.item.path for c in self.configs() if c.name == name), None)

    def doctor_checks(self) -> list[Contribution]:
        """Plugins' own health checks (:class:`~mmpx.plugins.types.DoctorCheck`)."""
        return self._collect("mmpx_doctor_checks", DoctorCheck)

    def run_doctor_checks(self) -> list[CheckResult]:
        """Run every plugin's health checks, each isolated: a failing or raising check is a failed row."""
        rows = []
        for contrib in self.doctor_checks():
            check: DoctorCheck = contrib.item
            name = f"{contrib.plugin}: {check.name}"
            try:
                with isolated():
                    value = check.check()
                rows.append(CheckResult(name, True, str(value or "ok")))
            except BaseException as exc:  # noqa: B036 (a check that exits must not end doctor)
                if isinstance(exc, UserInterrupt):
                    raise
                rows.append(CheckResult(name, False, "broken", short_error(exc), check.fix))
        return rows

    def _collect(
        self, hooks: str | tuple[str, ...], record_type: type, key=lambda item: (item.name,), label=None
    ) -> list[Contribution]:
        hooks = (hooks,) if isinstance(hooks, str) else hooks
        if hooks in self._cache:
            return self._cache[hooks]
        label = label or (lambda item: "/".join(map(str, key(item))))
        found: dict[tuple, Contribution] = {}
        # built-ins first, so a plugin can never replace one of mmpx's own names
        order = sorted(self._pm.list_name_plugin(), key=lambda np: (not self._infos[np[0]].builtin, np[0]))
        for plugin_name, plugin in order:
            if self._infos[plugin_name].status not in ("loaded", "error"):
                continue
            for hook_name in (h for h in hooks if h in self._infos[plugin_name].hooks):
                for item in self._call(plugin_name, plugin, hook_name):
                    if not isinstance(item, record_type):
                        self.record_error(plugin_name, f"{hook_name}: returned {type(item).__name__} "
                                                       f"{item!r:.60}, expected {record_type.__name__}; ignored")
                        continue
                    if hook_name in _HOOK_GROUPS and item.group is None:
                        item = dataclasses.replace(item, group=_HOOK_GROUPS[hook_name])
                    if key(item) in found:
                        self.record_error(plugin_name, f"{hook_name}: {label(item)!r} is already contributed by "
                                                       f"{found[key(item)].plugin}; ignored")
                        continue
                    found[key(item)] = Contribution(plugin_name, item)
        self._cache[hooks] = [found[k] for k in sorted(found)]
        return self._cache[hooks]

    def _call(self, plugin_name: str, plugin: object, hook_name: str) -> list:
        """The records one plugin's hook returns; [] when it raises (recorded on the plugin)."""
        others = [p for n, p in self._pm.list_name_plugin() if p is not plugin]
        caller = self._pm.subset_hook_caller(hook_name, remove_plugins=others)
        start = time.perf_counter()
        try:
            with isolated():
                return [item for records in caller() for item in records or []]
        except BaseException as exc:  # noqa: B036 (SystemExit or a stray KeyboardInterrupt from a plugin)
            if isinstance(exc, UserInterrupt):
                raise
            self.record_error(plugin_name, f"{hook_name}: {short_error(exc)}")
            return []
        finally:
            self._infos[plugin_name].seconds += time.perf_counter() - start

    def is_builtin(self, plugin_name: str) -> bool:
        """``plugin_name`` is one of mmpx's own (its commands need no probing)."""
        return self._infos[plugin_name].builtin

    def record_time(self, plugin_name: str, modules: float) -> None:
        """Add time spent importing the plugin's registry modules."""
        info = self._infos[plugin_name]
        info.modules_seconds += modules
        info.seconds += modules

    def record_error(self, plugin_name: str, message: str) -> None:
        """Note a failure on a plugin; it shows in `mmpx plugins list` and `mmpx doctor`."""
        info = self._infos[plugin_name]
        info.errors.append(message)
        if info.status == "loaded":
            info.status = "error"  # loaded, but some contribution failed


def _entry_points(distributions: Iterable[Any] | None) -> list[tuple[Any, Any]]:
    """(distribution, entry point) pairs of our group, then of its former name (each plugin once); distributions
    are injectable for tests."""
    dists = importlib.metadata.distributions() if distributions is None else distributions
    current, old = [], []
    for dist in dists:
        for ep in dist.entry_points:
            if ep.group in (ENTRY_POINT_GROUP, OLD_ENTRY_POINT_GROUP):
                (current if ep.group == ENTRY_POINT_GROUP else old).append((dist, ep))
    pairs, seen = [], set()
    for dist, ep in current + old:
        if (ep.name, ep.value) not in seen:
            seen.add((ep.name, ep.value))
            pairs.append((dist, ep))
    return pairs


def _old_group_warning(dist: Any, ep: Any) -> str:
    owner = dist.metadata["Name"] if dist.metadata else ep.value
    return (f"plugin {ep.name} ({owner}) declares its entry point in the group {OLD_ENTRY_POINT_GROUP!r}, read until "
            f"the next release: move it to [project.entry-points.{ENTRY_POINT_GROUP}]")


SLOW_SECONDS = 1.0  # a plugin slower than this to load (or to answer its hooks) is reported


def _register(pm: pluggy.PluginManager, info: PluginInfo, load) -> None:
    """Load and register one plugin, recording any failure on ``info`` instead of raising."""
    start = time.perf_counter()
    try:
        with isolated():
            plugin = load()
        pm.register(plugin, name=info.name)
    except BaseException as exc:  # noqa: B036 (a plugin calling sys.exit at import must not end mmpx)
        if isinstance(exc, UserInterrupt):
            raise
        info.status, info.errors = "failed", [f"load: {short_error(exc)}"]
        return
    finally:
        info.import_seconds = time.perf_counter() - start
        info.seconds += info.import_seconds
    problem = _api_problem(plugin, info)
    if problem:
        pm.unregister(plugin)
        info.status, info.errors = "failed", [f"load: {problem}"]
        return
    known = {name for name in dir(hookspecs) if name.startswith("mmpx_")}
    hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or [] if impl.name.startswith("mmpx_"))
    unknown = sorted(
        name
        for name in dir(plugin)
        if name.startswith("mmpx_") and name not in known and callable(getattr(plugin, name, None))
    )
    if unknown:
        pm.unregister(plugin)
        info.status = "failed"
        info.errors.append(
            f"load: unknown hook(s) {', '.join(unknown)}; known hooks: {', '.join(sorted(known))}"
        )
        return
    info.hooks = hooks


def _api_problem(plugin: Any, info: PluginInfo) -> str | None:
    """Why the plugin's declared ``MMPX_PLUGIN_API`` does not fit this host, or None when it does."""
    api = getattr(plugin, "MMPX_PLUGIN_API", None)
    info.api = api if isinstance(api, int) else None
    if api == hookspecs.API_VERSION:
        return None
    if api is None:
        return (f"{info.module} declares no plugin API version; add MMPX_PLUGIN_API = {hookspecs.API_VERSION} "
                "to it (docs/guides/plugins.md)")
    if isinstance(api, int) and api > hookspecs.API_VERSION:
        return (f"made for plugin API {api}, this mmpose-ext has API {hookspecs.API_VERSION}: upgrade mmpose-ext, "
                f"or install a version of {info.distribution or info.name} made for API {hookspecs.API_VERSION}")
    return (f"made for plugin API {api!r}, this mmpose-ext has API {hookspecs.API_VERSION}: upgrade "
            f"{info.distribution or info.name}, or install an mmpose-ext that has API {api!r}")


def load_plugins(
    distributions: Iterable[Any] | None = None,
    env: Mapping[str, str] | None = None,
    builtins: Iterable[str] = BUILTIN_PLUGINS,
) -> PluginHost:
    """Build a :class:`PluginHost`: built-in plugins, then entry points of the ``mmpx`` group (and, until the next
    release, of its former name ``mmpose_ext``, with a warning).

    Args:
        distributions: what ``importlib.metadata.distributions()`` returns; injectable for tests.
        env: environment switches (defaults to ``os.environ``); see the module docstring.
        builtins: modules of mmpose-ext's own default plugins.
    """
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if env_flag(env.get("MMPX_TRACE_PLUGINS")):
        pm.trace.root.setwriter(sys.stderr.write)
        pm.enable_tracing()

    infos = []
    for module in builtins:
        info = PluginInfo(name=module, module=module, builtin=True)
        _register(pm, info, functools.partial(importlib.import_module, module))
        infos.append(info)

    allow, block = _names(env.get("MMPX_PLUGINS")), _names(env.get("MMPX_BLOCK_PLUGINS"))
    autoload = not env_flag(env.get("MMPX_DISABLE_PLUGIN_AUTOLOAD"))
    entry_points = _entry_points(distributions)
    for dist, ep in entry_points:
        info = PluginInfo(
            name=ep.name,
            module=ep.value,
            distribution=dist.metadata["Name"] if dist.metadata else None,
            version=getattr(dist, "version", None),
        )
        infos.append(info)
        if any(i.name == ep.name for i in infos[:-1]):
            info.status, info.errors = "failed", [f"load: another plugin is already named {ep.name!r}"]
        elif ep.name in block:
            info.status = "blocked"
        elif not autoload and ep.name not in allow:
            info.status = "disabled"
        elif allow and ep.name not in allow:
            info.status = "not-allowed"
        else:
            _register(pm, info, ep.load)
    host = PluginHost(pm, infos)
    host.warnings += [_old_group_warning(dist, ep) for dist, ep in entry_points if ep.group == OLD_ENTRY_POINT_GROUP]
    for info in infos:
        if info.seconds > SLOW_SECONDS:
            host.warnings.append(f"plugin {info.name} took {info.seconds:.1f} s to load, on every mmpx command "
                                 f"(MMPX_BLOCK_PLUGINS={info.name} switches it off)")
    found = {i.name for i in infos}
    for name in sorted((allow | block) - found):  # a typo must not pass for "that plugin is off"
        switch = "MMPX_PLUGINS" if name in allow else "MMPX_BLOCK_PLUGINS"
        host.warnings.append(f"{switch} names {name!r}, which is not an installed plugin (installed: "
                             f"{', '.join(sorted(i.name for i in infos if not i.builtin)) or 'none'})")
    return host


@functools.cache
def get_host() -> PluginHost:
    """The process-wide host, loaded on first use (from ``main()``, never at import time)."""
    return load_plugins()
