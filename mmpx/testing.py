"""Test helpers for plugin authors (and mmpose-ext's own tests).

- :func:`host_for`: a plugin host built from in-memory plugins, to unit-test hooks without installing anything.
- :func:`block_network` and the ``no_network`` pytest fixture: any socket connection or DNS lookup fails.
- :func:`run_cli`: ``mmpx ARGS`` in a subprocess, stdout and stderr kept apart (Typer's ``CliRunner`` mixes
  them, which breaks ``--json`` parsing).
- :func:`plugin_loads`: does the plugin load in a fresh process after ``import mmpose_ext``, as
  ``custom_imports`` would run it?
- :func:`carpose_data`: a small synthetic car-keypoint dataset to train on.
- :func:`train_briefly`: ``mmpx train`` for one short epoch in a fresh process; returns the checkpoint.
- :func:`mmpose_tool`: where MMPose's own ``tools/train.py`` and ``tools/test.py`` are installed.

Light to import (no torch): the heavy work happens in the subprocesses.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmpx.plugins.manager import ENTRY_POINT_GROUP, PluginHost, load_plugins


class NetworkBlocked(OSError):
    """Raised by any connection attempt inside :func:`block_network`."""


# Set while the network is blocked: libraries that honour them fail fast with their own offline message.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@contextlib.contextmanager
def block_network() -> Iterator[None]:
    """Make every socket connection and DNS lookup in this process raise :class:`NetworkBlocked`.

    Examples:
        >>> import urllib.request
        >>> with block_network():
        ...     try:
        ...         urllib.request.urlopen("https://example.com", timeout=1)
        ...     except OSError as exc:
        ...         print("blocked")
        blocked
    """

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise NetworkBlocked(f"network access blocked in this test: {args[1:] or args!r:.80}")

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo, socket.create_connection)
    saved_env = {key: os.environ.get(key) for key in OFFLINE_ENV}
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign]
    socket.getaddrinfo = refuse  # type: ignore[assignment]
    socket.create_connection = refuse  # type: ignore[assignment]
    os.environ.update(OFFLINE_ENV)
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo, socket.create_connection = saved
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


try:
    import pytest
except ImportError:  # pragma: no cover - pytest is optional for the rest of this module
    pytest = None

if pytest is not None:

    @pytest.fixture
    def no_network() -> Iterator[None]:
        """Fixture: the test runs with :func:`block_network` (import it into your conftest.py)."""
        with block_network():
            yield


class _EntryPoint:
    def __init__(self, name: str, plugin: object) -> None:
        self.name, self.group, self.value, self._plugin = name, ENTRY_POINT_GROUP, f"<in-memory {name}>", plugin

    def load(self) -> object:
        return self._plugin


class _Distribution:
    def __init__(self, name: str, plugin: object) -> None:
        self.metadata = {"Name": f"{name} (in memory)"}
        self.version = "0"
        self.entry_points = [_EntryPoint(name, plugin)]


def _default_name(plugin: object) -> str:
    name = getattr(plugin, "__name__", None) or type(plugin).__name__
    return name.rsplit(".", 1)[-1].lower()


def host_for(*plugins: object, names: Sequence[str] | None = None, builtins: bool = True) -> PluginHost:
    """A plugin host with ``plugins`` (modules, classes or instances with ``@hookimpl`` functions) as if
    installed. Their names default to the lower-cased module or class name.

    Args:
        plugins: the plugin objects.
        names: their plugin names, one per plugin.
        builtins: include mmpose-ext's own plugin (its commands, converters and configs).
    """
    names = list(names) if names is not None else [_default_name(p) for p in plugins]
    if len(names) != len(plugins):
        raise ValueError(f"{len(plugins)} plugins but {len(names)} names")
    dists = [_Distribution(n, p) for n, p in zip(names, plugins, strict=True)]
    kwargs = {} if builtins else {"builtins": ()}
    return load_plugins(distributions=dists, env={}, **kwargs)


@dataclass(frozen=True)
class CliResult:
    """What an ``mmpx`` run did: its exit code and what it wrote to stdout and to stderr."""

    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        """stdout parsed as JSON (for ``--json`` commands)."""
        return json.loads(self.stdout)


def run_cli(*args: str | os.PathLike, env: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
            timeout: float = 600) -> CliResult:
    """Run ``mmpx ARGS`` in a subprocess with this interpreter; stdout and stderr are kept apart.

    Args:
        args: the command line after ``mmpx``.
        env: extra environment variables (added to this process's environment).
        cwd: the working folder.
        timeout: seconds before the run is stopped (``subprocess.TimeoutExpired``).
    """
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "mmpx", *map(str, args)], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=timeout)
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


_LOADS = """
import json, sys
import mmpose_ext  # first, as custom_imports runs it
from mmpx.plugins.manager import get_host
host = get_host()
if {check}:
    from mmpose_ext.plugins import register_plugin_modules
    register_plugin_modules(host)
from mmpx.cli.plugins import plugin_rows
print(json.dumps(plugin_rows(host)))
"""


def plugin_loads(name: str, check_modules: bool = True, env: dict[str, str] | None = None) -> dict:
    """Check in a fresh process that plugin ``name`` loads after ``import mmpose_ext`` (and, with
    ``check_modules``, that its registry modules import and register what they promise).

    Returns:
        The plugin's row of ``mmpx plugins list --json``: status, api, hooks, contributes, import_seconds, ...

    Raises:
        AssertionError: the process failed, the plugin is not installed, or it did not load cleanly (the
            message carries its errors).
    """
    proc = subprocess.run([sys.executable, "-c", _LOADS.format(check=bool(check_modules))], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=600)
    if proc.returncode != 0:
        raise AssertionError("a fresh process could not import mmpose_ext and load the plugins:\n"
                             + proc.stderr[-3000:])
    rows = {row["name"]: row for row in json.loads(proc.stdout.strip().splitlines()[-1])}
    if name not in rows:
        raise AssertionError(f"no plugin named {name!r} is installed (installed: {', '.join(sorted(rows))})")
    row = rows[name]
    if row["status"] != "loaded" or row["errors"]:
        raise AssertionError(f"plugin {name!r} is {row['status']}: {'; '.join(row['errors']) or 'no error text'}")
    return row


def carpose_data(root: str | os.PathLike, n: int = 12, seed: int = 0, size: int = 128) -> Path:
    """Write a small synthetic car-keypoint dataset, as ``mmpx quickstart`` makes it: ``n`` labelme files drawn
    by ``mmpx data synth carpose`` (one car each), converted with ``mmpx convert labelme``.

    Returns:
        The data root: ``annotations/train.json``, ``annotations/val.json``, ``images/``, ``metainfo.py``;
        configs for ``CarPoseDataset`` take it as ``data_root``.
    """
    import importlib.util

    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    root = Path(root)
    spec = importlib.util.find_spec("mmpose_ext")  # its metainfo file, without importing torch
    metainfo = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "metainfo" / "carpose.py"
    synth_carpose(root / "labelme", n=n, seed=seed, size=size, max_cars=1, occlusion=0.0)
    convert_labelme(root / "labelme", root / "data", metainfo=metainfo, category="car", seed=seed, workers=0)
    return root / "data"


def train_briefly(config: str | os.PathLike, work_dir: str | os.PathLike, *, samples: int = 4,
                  batch_size: int = 2, cfg_options: Sequence[str] = (), args: Sequence[str] = (),
                  env: dict[str, str] | None = None, timeout: float = 900, validate: bool = False) -> Path:
    """Train ``config`` with ``mmpx train`` in a fresh process for one epoch on its first ``samples`` training
    samples (``samples / batch_size`` iterations), without validation, and return the checkpoint written.

    Args:
        config: a config file or a shipped config's name.
        work_dir: the run folder.
        samples: training samples used (the dataset's ``indices``).
        batch_size: training batch size.
        cfg_options: more ``KEY=VALUE`` overrides.
        args: more ``mmpx train`` options, e.g. ``("--freeze", "backbone:2")``.
        validate: validate once, after the epoch, on the config's whole validation set.

    Raises:
        AssertionError: the run failed (with the end of its output) or wrote no checkpoint.
    """
    work_dir = Path(work_dir)
    overrides = [f"train_dataloader.dataset.indices={samples}", f"train_dataloader.batch_size={batch_size}",
                 "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                 "train_cfg.max_epochs=1", "default_hooks.checkpoint.interval=1",
                 "default_hooks.checkpoint.save_best=None", *cfg_options]
    if validate:
        overrides.insert(0, "train_cfg.val_interval=1")  # before cfg_options, which may change it
    result = run_cli("train", config, "--work-dir", work_dir, *([] if validate else ["--no-validate"]),
                     "--no-progress", "--cfg-options", *overrides, *args, env=env, timeout=timeout)
    if result.exit_code != 0:
        raise AssertionError(f"mmpx train {config} exited {result.exit_code}:\n{result.stderr[-4000:]}")
    last = work_dir / "last_checkpoint"
    checkpoint = Path(last.read_text().strip()) if last.is_file() else None
    if checkpoint is None or not checkpoint.is_file():
        raise AssertionError(f"mmpx train {config} wrote no checkpoint in {work_dir}:\n{result.stderr[-2000:]}")
    return checkpoint


def mmpose_tool(name: str) -> Path:
    """The path of one of MMPose's own tools (``train.py``, ``test.py``, ...): mmpose installs its ``tools/``
    folder as ``mmpose/.mim/tools/`` (found without importing mmpose). Run it with this interpreter:
    ``python PATH CONFIG --work-dir DIR``, on a config from ``mmpx configs dump NAME OUT.py``.

    Raises:
        FileNotFoundError: mmpose is not installed, or has no such tool.
    """
    import importlib.util

    spec = importlib.util.find_spec("mmpose")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mmpose is not installed here: its tools come with it (mmpx doctor)")
    path = Path(next(iter(spec.submodule_search_locations))) / ".mim" / "tools" / name
    if not path.is_file():
        raise FileNotFoundError(f"mmpose has no tool {name!r} ({path} does not exist)")
    return path


__all__ = [
    "CliResult",
    "NetworkBlocked",
    "block_network",
    "carpose_data",
    "host_for",
    "mmpose_tool",
    "plugin_loads",
    "run_cli",
    "train_briefly",
]
if pytest is not None:
    __all__.append("no_network")
