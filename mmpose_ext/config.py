"""The one config loader behind train, test, export, browse and infer.

It registers the plugins' classes, accepts a file or a package config (``mmdet::rtmdet/...py``), resolves
``mmpose::`` bases (mmengine does, once the compatibility fixes are in) and applies ``--cfg-options``. Errors a
user can fix are :class:`mmpx.errors.ConfigError` naming the file and the reason.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from mmpx.configs.paths import config_path
from mmpx.errors import ConfigError


def parse_cfg_options(options: list[str] | None) -> dict:
    """``KEY=VALUE`` strings to a dict, with values parsed as mmengine's ``--cfg-options`` parses them."""
    from mmengine.config import DictAction

    parsed = {}
    for option in options or []:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ConfigError(
                f"--cfg-options {option!r} is not KEY=VALUE", "e.g. --cfg-options train_cfg.max_epochs=2"
            )
        if not value.strip():
            raise ConfigError(f"--cfg-options {option!r} has no value", f"e.g. {key}=VALUE; None for nothing")
        try:
            if "dict(" in value or value.lstrip().startswith("{"):  # mmengine's parser recurses without end here
                parsed[key] = _literal(value, option)
            else:
                parsed[key] = DictAction._parse_iterable(value)
        except (AssertionError, RecursionError):  # mmengine's own message is a bare "Imbalanced brackets"
            raise ConfigError(f"--cfg-options {option!r}: unbalanced brackets in the value",
                              f"close every [ and ( , e.g. {key}=[1,2]") from None
    return parsed


def _literal(text: str, option: str):
    """A value written as Python: ``dict(type='PCKAccuracy', norm_item='bbox')``, ``[dict(...), ...]``, ``{...}``,
    made of literals only (nothing is called or looked up)."""
    import ast

    def value(node):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" \
                and not node.args and all(kw.arg for kw in node.keywords):
            return {kw.arg: value(kw.value) for kw in node.keywords}
        if isinstance(node, ast.Dict) and None not in node.keys:
            return {value(k): value(v) for k, v in zip(node.keys, node.values, strict=True)}
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [value(item) for item in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.Constant):
            return node.value
        raise ValueError(ast.unparse(node))

    try:
        return value(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, TypeError, RecursionError) as exc:
        what = f"{exc.args[0]!r} is not a literal" if isinstance(exc, ValueError) else "not a Python value"
        raise ConfigError(f"--cfg-options {option!r}: {what}",
                          "write dicts as dict(key=value, ...) of numbers, strings, lists, None, True/False") from None


def _current(cfg, key: str):
    """The config's value at a dotted ``key`` (list items by index), or ``_MISSING``."""
    node = getattr(cfg, "_cfg_dict", cfg)  # a Config wraps its ConfigDict (a dict)
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


_MISSING = object()


def check_override_types(cfg, overrides: dict, config) -> None:
    """A number or a flag in the config stays one: ``max_epochs=abc`` is an error here, not a TypeError later."""
    for key, value in overrides.items():
        old = _current(cfg, key)
        if isinstance(old, (bool, int, float)) and isinstance(value, str):
            kind = "true or false" if isinstance(old, bool) else "a number"
            raise ConfigError(f"--cfg-options {key}={value}: {key} is {kind} in {config} ({old!r})",
                              f"e.g. {key}={old!r}")


@contextlib.contextmanager
def _shipped_bases():
    """While a config loads, ``_base_ = ['mmpx::NAME']`` names a shipped config (mmengine accepts ``pkg::`` only
    for its fixed list of OpenMMLab packages). Only inside mmpx's loader: MMPose's tools read a config before any
    import it names, so a patch at import time could not help them (``mmpx configs dump`` does)."""
    from mmengine.config import Config

    from mmpx.configs.names import BASE_PREFIX, resolve_config_name

    original = Config.__dict__["_get_cfg_path"]

    def get_cfg_path(cfg_path: str, filename: str):
        if isinstance(cfg_path, str) and cfg_path.startswith(BASE_PREFIX):
            return str(resolve_config_name(cfg_path)), None
        return original.__func__(cfg_path, filename)

    Config._get_cfg_path = staticmethod(get_cfg_path)
    try:
        yield
    finally:
        Config._get_cfg_path = original


def load_config(config: str | Path, cfg_options: list[str] | None = None, *, plugins: bool = True):
    """Load a config (a file, or ``PACKAGE::path`` such as ``mmdet::rtmdet/...py``) and apply overrides.

    Args:
        config: the config file or package config.
        cfg_options: ``KEY=VALUE`` overrides, as MMPose's tools take them.
        plugins: register the installed plugins' classes first, so a config may name them.

    Raises:
        ConfigError: the file is missing or does not load, naming the file and the reason.
    """
    from mmengine.config import Config

    if plugins:
        from mmpose_ext.plugins import register_plugin_modules

        register_plugin_modules()
    path = config_path(config)
    try:
        with _shipped_bases():
            cfg = Config.fromfile(str(path))
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [""])[0]
        raise ConfigError(
            f"config {config} could not be loaded: {type(exc).__name__}: {first}",
            "fix that line of the config; `python CONFIG` shows plain syntax errors",
        ) from exc
    overrides = parse_cfg_options(cfg_options)
    if overrides:
        check_override_types(cfg, overrides, config)
        for key, value in overrides.items():  # a whole dict given where the config has none: set, not merge
            if isinstance(value, dict) and not isinstance(_current(cfg, key), dict):
                overrides[key] = {**value, "_delete_": True}
        try:
            cfg.merge_from_dict(overrides)
        except (TypeError, KeyError) as exc:  # mmengine: a dict given into a key that is None or a value
            message = str(exc).split(" You may set")[0].strip("\"' ")
            raise ConfigError(f"--cfg-options {' '.join(cfg_options or [])}: {message}",
                              "set the whole entry at once, e.g. model.backbone.init_cfg=\"dict(type='Pretrained', "
                              "checkpoint='ckpt.pth')\"") from None
    return cfg


__all__ = ["load_config", "parse_cfg_options"]
