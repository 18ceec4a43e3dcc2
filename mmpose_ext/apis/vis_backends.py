"""``mmpx train --vis tensorboard|wandb|mlflow``: mmengine's visualisation backends beside the local one.

The local backend (``vis_data/scalars.json``, which ``mmpx plot`` and the plots read) always stays; each named
backend is added to ``cfg.visualizer.vis_backends`` once. A backend whose package is not installed is an error
now, naming the package, rather than an ImportError after the model and data are built.
"""

from __future__ import annotations

import importlib.util

from mmpx.errors import ConfigError

# name -> (mmengine backend type, module that must import, package to install)
BACKENDS = {
    "tensorboard": ("TensorboardVisBackend", "tensorboard", "tensorboard"),
    "wandb": ("WandbVisBackend", "wandb", "wandb"),
    "mlflow": ("MLflowVisBackend", "mlflow", "mlflow"),
}


def add_vis_backends(cfg, names) -> None:
    """Add the backends ``names`` (any of :data:`BACKENDS`) to ``cfg.visualizer.vis_backends``.

    Raises:
        ConfigError: an unknown name, a missing package, or a config without a ``visualizer``.
    """
    names = [n.strip().lower() for name in names or [] for n in str(name).split(",") if n.strip()]
    if not names:
        return
    unknown = [n for n in names if n not in BACKENDS]
    if unknown:
        raise ConfigError(f"--vis {', '.join(unknown)}: not a visualisation backend",
                          f"choose from {', '.join(BACKENDS)} (the local scalars.json is always written)")
    for name in names:
        module, package = BACKENDS[name][1:]
        if importlib.util.find_spec(module) is None:
            raise ConfigError(f"--vis {name}: the package {package!r} is not installed",
                              f".venv/bin/pip install {package} (mmpx's set-up installs tensorboard)")
    visualizer = cfg.get("visualizer")
    if not visualizer:
        raise ConfigError("--vis: the config has no visualizer",
                          "inherit _base_ = ['mmpose::_base_/default_runtime.py'], which defines one")
    backends = list(visualizer.get("vis_backends") or [dict(type="LocalVisBackend")])
    if not any(b.get("type") == "LocalVisBackend" for b in backends):
        backends.insert(0, dict(type="LocalVisBackend"))  # mmpx plot and PlotHook read its scalars.json
    for name in names:
        kind = BACKENDS[name][0]
        if not any(b.get("type") == kind for b in backends):
            backends.append(dict(type=kind))
    visualizer.vis_backends = backends
