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
    close = [n for n in names if bare and bare in n][:3] or _near(bare, names)
    if close:
        hint = f"did you mean {', '.join(close)}? (mmpx configs list shows every shipped config)"
    else:
        hint = f"shipped configs: {', '.join(names)} (mmpx configs list)" if names else "no config is shipped"
    raise ConfigError(f"no config file or shipped config named {bare!r}", hint)


def _near(typed: str, names: list[str]) -> list[str]:
    """Up to 3 near spellings, best first; only those about as near as the best (a typo of one name should not
    also offer every name that shares a few letters with it)."""
    scored = sorted(((difflib.SequenceMatcher(None, typed, n).ratio(), n) for n in names), reverse=True)
    best = scored[0][0] if scored else 0.0
    return [n for ratio, n in scored[:3] if ratio >= max(0.6, best - 0.1)]
