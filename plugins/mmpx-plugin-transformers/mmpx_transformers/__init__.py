"""mmpx-plugin-transformers: transformers' ``AutoBackbone`` models (ConvNeXt, ResNet, Swin, DINOv2, ...) as
MMPose backbones, a command that prints the head settings they need, and configs for the synthetic cars.

Importing the package is light (no torch, no transformers); :mod:`mmpx_transformers.backbone` registers
``HFBackbone`` in MMPose's ``MODELS``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__version__ = "0.1.0"

# name -> (file under configs/, summary); the names start with the plugin's name, as the host asks
CONFIGS = {
    "transformers-convnext-rtmcc-carpose": (
        "convnext_rtmcc_carpose.py", "small ConvNeXt (transformers) + RTMCCHead (SimCC), cars, 128x128"),
    "transformers-convnext-heatmap-carpose": (
        "convnext_heatmap_carpose.py", "small ConvNeXt (transformers) + HeatmapHead, cars, 128x128"),
}


def config_paths() -> dict[str, Path]:
    """The installed path of every shipped config, by name."""
    folder = resources.files(__name__) / "configs"
    return {name: Path(str(folder / file)) for name, (file, _) in CONFIGS.items()}


def config_path(name: str) -> Path:
    """The installed path of the shipped config ``name``.

    Raises:
        KeyError: no shipped config has that name; the message lists the ones that exist.
    """
    paths = config_paths()
    if name not in paths:
        raise KeyError(f"no config {name!r} in {__name__}; shipped: {', '.join(sorted(paths))}")
    return paths[name]


__all__ = ["CONFIGS", "__version__", "config_path", "config_paths"]
