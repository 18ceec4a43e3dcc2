"""Shipped configs by name: ``mmpx train carpose-quickstart``, ``_base_ = ['mmpx::NAME']``.

mmpose-ext and plugins contribute configs through the ``mmpx_configs`` hook; this resolves a name to its file.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from mmpx.errors import ConfigError

BASE_PREFIX = "mmpx::"  # _base_ = ['mmpx::NAME'] inherits a shipped config


def looks_like_name(text: str) -> bool:
    """A bare name (``carpose-quickstart``), not a path or a ``package::file``."""
    return bool(text) and "/" not in text and "\\" not in text and not text.endswith(".py") and (
        text.startswith(BASE_PREFIX) or "::" not in text)


def resolve_config_name(name: str) -> Path:
    """The file of the shipped config ``name`` (``mmpx::`` prefix allowed).

    Raises:
        ConfigError: no shipped config has that name; the hint lists the closest names.
    """
    from mmpx.plugins.manager import get_host

    bare = name.removeprefix(BASE_PREFIX)
    host = get_host()
    path = host.config_file(bare)
    if path is not None:
        return path
    names = sorted(c.name for c in host.configs())
    # the names holding what was typed (``smoke_cpu``, ``rtmdet``), else near spellings: with a dozen carpose-*
    # and rtmpose-* names, a looser cutoff offers names that only share that prefix
    close = [n for n in names if bare and bare in n][:3] or difflib.get_close_matches(bare, names, 3, 0.6)
    if close:
        hint = f"did you mean {', '.join(close)}? (mmpx configs list shows every shipped config)"
    else:
        hint = f"shipped configs: {', '.join(names)} (mmpx configs list)" if names else "no config is shipped"
    raise ConfigError(f"no config file or shipped config named {bare!r}", hint)
