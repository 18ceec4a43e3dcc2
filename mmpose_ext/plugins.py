"""Plugins' registry classes into MMPose's registries: the library's half of the plugin host.

The host (:mod:`mmpx.plugins`, torch-free) finds plugins and what they contribute; importing the contributed
modules needs mmpose, so it happens here.
"""

from __future__ import annotations

import importlib
import time

from mmpx.plugins.isolation import short_error
from mmpx.plugins.manager import PluginHost, get_host
from mmpx.plugins.types import Contribution


def register_plugin_modules(host: PluginHost | None = None) -> list[Contribution]:
    """Import every module a plugin contributes so its classes are in MMPose's registries.

    MMPose's own classes are registered first. A module that fails to import, imports without registering the
    name it promised, or replaces a class already registered (``register_module(force=True)`` over one of MMPose's
    or another plugin's names) is recorded on its plugin (``mmpx plugins list``, ``mmpx doctor``) and skipped; a
    replaced class is put back.

    Args:
        host: the plugin host; default the process-wide one (:func:`mmpx.plugins.get_host`).

    Returns:
        The contributions now usable from a config.
    """
    from mmpose.utils import register_all_modules

    from mmpose_ext import registry as registries
    from mmpx.plugins.types import REGISTRIES

    host = get_host() if host is None else host
    contributions = host.modules()
    if contributions:
        register_all_modules(init_default_scope=False)  # MMPose's names first: a plugin must not take them
    done = []
    for contrib in contributions:
        item = contrib.item
        before = {(reg, name): cls for reg in REGISTRIES for name, cls in getattr(registries, reg).module_dict.items()}
        start = time.perf_counter()
        try:
            importlib.import_module(item.module)
            replaced = _restore_replaced(registries, before)
            if replaced:
                raise LookupError(f"importing {item.module} replaced {', '.join(replaced)} (register_module("
                                  "force=True)); refused, the original is back: use a name of your own")
            registry = getattr(registries, item.registry)
            if item.name not in registry.module_dict:
                raise LookupError(f"importing {item.module} did not register {item.name!r} in mmpose's {item.registry}")
        except Exception as exc:  # a broken plugin module must not stop the others
            reason = _taken(exc, item.module, contrib.plugin, host) or short_error(exc)
            host.record_error(contrib.plugin, f"mmpx_modules: {reason}")
            continue
        finally:
            host.record_time(contrib.plugin, modules=time.perf_counter() - start)
        done.append(contrib)
    return done


def _taken(exc: Exception, module: str, plugin: str, host: PluginHost) -> str | None:
    """mmengine's ``KeyError: 'X is already registered in model at pkg.mod'`` as one line naming both owners."""
    import re

    from mmpx.plugins.blame import describe_plugin, module_owner

    text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else ""  # str(KeyError) adds quotes
    found = re.search(r"(\S+) is already registered in (\S+) at (\S+)$", text)
    if found is None:
        return None
    name, registry, first = found.groups()
    info = next(i for i in host.plugins() if i.name == plugin)
    return (f"the name {name!r} in MMPose's {registry} registry is taken twice: first by {module_owner(first, host)}, "
            f"then by {describe_plugin(info)} ({module}); the second is refused: give the plugin's class a name of "
            "its own")


def _restore_replaced(registries, before: dict) -> list[str]:
    """Put back every class that an import replaced in a registry; returns ``REGISTRY.Name`` of each."""
    replaced = []
    for (reg, name), cls in before.items():
        registry = getattr(registries, reg)
        if registry.module_dict.get(name) is not cls:
            registry.module_dict[name] = cls  # module_dict is the registry's own dict
            replaced.append(f"{reg}.{name}")
    return replaced


__all__ = ["register_plugin_modules"]
