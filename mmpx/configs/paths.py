"""The file behind a config argument: a path, a shipped config's name, or ``PACKAGE::inner/path.py``."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mmpx.configs.names import BASE_PREFIX, looks_like_name, resolve_config_name
from mmpx.errors import ConfigError


def config_path(config: str | Path) -> Path:
    """The file behind ``config``: a path, a shipped config's name (``carpose-quickstart``, ``mmpx configs
    list``), or ``PACKAGE::inner/path.py`` inside an OpenMMLab package's configs."""
    text = str(config)
    if text.startswith(BASE_PREFIX) or (looks_like_name(text) and not Path(text).exists()):
        return resolve_config_name(text)
    if "::" not in text:
        path = Path(text)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist", "check the path (configs are .py files)")
        return path
    package, _, inner = text.partition("::")
    spec = importlib.util.find_spec(package) if package.isidentifier() else None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"config {text}: no installed package {package!r}",
                          "e.g. mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py")
    path = Path(next(iter(spec.submodule_search_locations))) / ".mim" / "configs" / inner
    if not path.is_file():
        raise ConfigError(f"config {text}: {package} has no configs/{inner}", f"look in {path.parent.parent}")
    return path
