"""Plugins' registry classes into MMPose's registries: the library's half of the plugin host.

The host (:mod:`mmpx.plugins`, torch-free) finds plugins and what they contribute; importing the contributed
modules needs mmpose, so it happens here.
"""

from __future__ import annotations

import importlib

from mmpx.plugins.manager import PluginHost, get_host, short_error
from mmpx.plugins.types import Contribution


def register_plugin_modules(host: PluginHost | None = None) -> list[Contribution]:
    """Import every module a plugin contributes so its classes are in MMPose's registries.

    A module that fails to import, or imports without registering the name it promised, is recorded on its
    plugin (``mmpx plugins list``, ``mmpx doctor``) and skipped.

    Args:
        host: the plugin host; default the process-wide one (:func:`mmpx.plugins.get_host`).

    Returns:
        The contributions now usable from a config.
    """
    from mmpose_ext import registry as registries

    host = get_host() if host is None else host
    done = []
    for contrib in host.modules():
        item = contrib.item
        try:
            importlib.import_module(item.module)
            registry = getattr(registries, item.registry)
            if item.name not in registry.module_dict:
                raise LookupError(f"importing {item.module} did not register {item.name!r} in mmpose's {item.registry}")
        except Exception as exc:  # a broken plugin module must not stop the others
            host.record_error(contrib.plugin, f"mmpx_modules: {short_error(exc)}")
            continue
        done.append(contrib)
    return done


__all__ = ["register_plugin_modules"]
