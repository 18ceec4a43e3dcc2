"""An example mmpose-ext plugin: a tiny backbone, a synthetic keypoint dataset, a converter and a command.

Importing the package is light (no torch, no mmpose); the registering modules are
:mod:`mmpx_plugin_example.backbone` and :mod:`mmpx_plugin_example.dataset`.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__version__ = "0.1.0"


def config_paths() -> dict[str, Path]:
    """The configs shipped with the package, by name (file stem), e.g. ``{'smoke': Path(...)}``."""
    entries = (resources.files(__name__) / "configs").iterdir()
    return {Path(e.name).stem: Path(str(e)) for e in entries if e.name.endswith(".py")}


def config_path(name: str = "smoke") -> Path:
    """The installed path of the shipped config ``name``.

    Raises:
        KeyError: no shipped config has that name; the message lists the ones that exist.
    """
    paths = config_paths()
    if name not in paths:
        raise KeyError(f"no config {name!r} in {__name__}; shipped: {', '.join(sorted(paths))}")
    return paths[name]


__all__ = ["__version__", "config_path", "config_paths"]
