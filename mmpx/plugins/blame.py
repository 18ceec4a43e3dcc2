"""Whose code an error came from: a plugin's errors name the plugin, its distribution and version, and where to
report them, instead of asking the user to report a bug to mmpx.

Torch-free; used by ``mmpx``'s ``main()`` for an exception no other rule explains, and by the plugin host for a
registry name that two owners claim.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import traceback
from dataclasses import dataclass

from mmpx.plugins.manager import PluginHost, PluginInfo


@dataclass(frozen=True)
class Owner:
    """A plugin and the folders of its packages."""

    info: PluginInfo
    packages: tuple[str, ...]  # top-level package names
    folders: tuple[str, ...]  # where those packages live


def owners(host: PluginHost) -> list[Owner]:
    """Every installed (not built-in) plugin with its packages: the one of its entry point, and those of its
    registry modules that its own distribution installs (a plugin may name another package's module)."""
    import sys

    try:
        shipped_by = importlib.metadata.packages_distributions()
    except Exception:  # broken metadata somewhere must not hide the error being reported
        shipped_by = {}
    tops: dict[str, set[str]] = {}
    infos = {info.name: info for info in host.plugins() if not info.builtin}
    for info in infos.values():
        tops.setdefault(info.name, set()).add(info.module.split(":")[0].split(".")[0])
    for contrib in host.modules():
        top, info = contrib.item.module.split(".")[0], infos.get(contrib.plugin)
        if info is not None and info.distribution in shipped_by.get(top, ()):
            tops[contrib.plugin].add(top)
    ours = {"mmpx", "mmpose_ext", *sys.stdlib_module_names}
    found = []
    for name, packages in tops.items():
        names = tuple(sorted(p for p in packages if p.isidentifier() and p not in ours))
        found.append(Owner(infos[name], names, tuple(f for p in names for f in _folders(p))))
    return found


def _folders(package: str) -> list[str]:
    try:
        spec = importlib.util.find_spec(package)  # a top-level name: nothing is imported
    except (ImportError, ValueError):
        return []
    if spec is None:
        return []
    if spec.submodule_search_locations:
        return [os.path.realpath(p) for p in spec.submodule_search_locations]
    return [os.path.realpath(spec.origin)] if spec.origin and os.path.isfile(spec.origin) else []


def _chain(exc: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen and len(chain) < 10:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    return chain


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def plugin_of(exc: BaseException, host: PluginHost) -> PluginInfo | None:
    """The plugin whose code raised ``exc``: the innermost frame of the plugin's packages in its traceback (or
    in a cause's), else a plugin module named in the message (mmengine's ``class `X` in pkg.mod: ...``, a data
    loader worker's traceback as text); None when no plugin is involved."""
    candidates = owners(host)
    if not candidates:
        return None
    for err in _chain(exc):
        frames = traceback.extract_tb(err.__traceback__) if err.__traceback__ else []
        for frame in reversed(frames):
            path = os.path.realpath(frame.filename)
            for owner in candidates:
                if any(_inside(path, folder) for folder in owner.folders):
                    return owner.info
    text = "\n".join(str(err) for err in _chain(exc))
    for owner in candidates:
        if any(folder in text for folder in owner.folders) or any(
                re.search(rf"(?<![\w.]){re.escape(p)}(\.|\b)", text) for p in owner.packages):
            return owner.info
    return None


def project_url(distribution: str | None) -> str | None:
    """Where to report a problem with ``distribution``: its issue tracker among its ``Project-URL``s, else its
    home page, else its first project URL; None when its metadata has none."""
    if not distribution:
        return None
    try:
        meta = importlib.metadata.metadata(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    urls = []
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = entry.partition(",")
        urls.append((label.strip().lower(), url.strip()))
    for label, url in urls:
        if any(word in label for word in ("issue", "bug", "tracker")) and url:
            return url
    home = meta.get("Home-page")
    return home or next((url for _, url in urls if url), None)


def describe_plugin(info: PluginInfo) -> str:
    """``plugin wings (mmpx-plugin-wings 0.1.0)``."""
    dist = " ".join(p for p in (info.distribution, info.version) if p)
    return f"plugin {info.name}" + (f" ({dist})" if dist else "")


def plugin_error(exc: BaseException, host: PluginHost) -> tuple[str, str] | None:
    """(message, hint) for an unexpected exception raised from a plugin's code, naming the plugin and where to
    report it; None when the exception does not come from a plugin."""
    info = plugin_of(exc, host)
    if info is None:
        return None
    text = str(exc).strip()
    first = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
    url = project_url(info.distribution)
    where = f"report it at {url}" if url else f"report it to the author of {info.distribution or info.name}"
    return (f"{first} (raised in {describe_plugin(info)})",
            f"a problem in the plugin {info.name}, not in mmpx: {where} with the traceback (rerun with --debug); "
            f"MMPX_BLOCK_PLUGINS={info.name} runs mmpx without it")


def module_owner(module: str, host: PluginHost) -> str:
    """Who a module belongs to, in words: ``plugin wings (mmpx-plugin-wings 0.1.0) (mmpx_wings.backbone)``,
    ``mmpose 1.3.2 (mmpose.models.backbones.resnet)``, or the module's name."""
    top = module.split(".")[0]
    for owner in owners(host):
        if top in owner.packages:
            return f"{describe_plugin(owner.info)} ({module})"
    try:
        dists = importlib.metadata.packages_distributions().get(top) or []
    except Exception:  # broken metadata somewhere must not hide the message
        dists = []
    if dists:
        try:
            return f"{dists[0]} {importlib.metadata.version(dists[0])} ({module})"
        except importlib.metadata.PackageNotFoundError:
            return f"{dists[0]} ({module})"
    return module


__all__ = ["describe_plugin", "module_owner", "plugin_error", "plugin_of", "project_url"]
