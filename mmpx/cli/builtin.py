"""mmpose-ext's own commands, contributed through the same hooks a third-party plugin uses."""

from __future__ import annotations

from pathlib import Path

from mmpx.plugins.hookspecs import hookimpl
from mmpx.plugins.types import Command, ConfigFile

MMPX_PLUGIN_API = 1


@hookimpl
def mmpx_configs() -> list[ConfigFile]:
    import importlib.util

    # find_spec, not importlib.resources.files: the latter would import mmpose_ext (torch) to list a file
    spec = importlib.util.find_spec("mmpose_ext")
    folder = Path(next(iter(spec.submodule_search_locations))) / "configs"
    configs = [ConfigFile("carpose-quickstart", folder / "carpose_quickstart.py",
                          "ResNet-18 heatmap model for the 8 car keypoints at 96x96 (mmpx quickstart's model)")]
    # the checkout's configs/<group>/*.py: links in the checkout, copies in a wheel (pyproject's package-data)
    for path in sorted(folder.glob("*/*.py")):
        configs.append(ConfigFile(_config_name(path), path, _first_sentence(path)))
    return configs


def _config_name(path: Path) -> str:
    """The file's stem, after its folder when the stem does not say it (``carpose/smoke_cpu.py``:
    ``carpose-smoke_cpu``)."""
    group = path.parent.name
    return path.stem if group in path.stem else f"{group}-{path.stem}"


def _first_sentence(path: Path) -> str:
    """The first sentence of the comment a config starts with: its summary in ``mmpx configs list``."""
    import re

    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    return re.split(r"\.(?:\s|$)", text, maxsplit=1)[0]


@hookimpl
def mmpx_converters() -> list[Command]:
    return [
        Command("labelme", "mmpx.cli.convert:labelme"),
        Command("yolo", "mmpx.cli.convert:yolo"),
        Command("to-yolo", "mmpx.cli.convert:to_yolo"),
        # through sleap-io (the formats extra)
        Command("dlc", "mmpx.cli.convert:dlc"),
        Command("sleap", "mmpx.cli.convert:sleap"),
        Command("labelstudio", "mmpx.cli.convert:labelstudio"),
        Command("nwb", "mmpx.cli.convert:nwb"),
    ]


@hookimpl
def mmpx_cli_commands() -> list[Command]:
    from mmpx.cli import _app

    # "module:name" references: a command's module is imported only when that command is built (run or --help)
    return [
        Command("check", "mmpx.cli.check:app", help="Check a dataset before training.", panel=_app.PANEL_DATA),
        Command("data", "mmpx.cli.data:app", help="Dataset utilities: synthetic data.", panel=_app.PANEL_DATA),
        Command("metainfo", "mmpx.cli.metainfo:app", help="Make and check MMPose metainfo files.",
                panel=_app.PANEL_DATA),
        Command("browse", "mmpx.cli.browse:browse", panel=_app.PANEL_DATA),
        Command("suggest", "mmpx.cli.suggest:suggest", panel=_app.PANEL_DATA),
        Command("quickstart", "mmpx.cli.quickstart:quickstart", panel=_app.PANEL_TRAIN),
        Command("train", "mmpx.cli.train:train", panel=_app.PANEL_TRAIN),
        Command("test", "mmpx.cli.train:test", panel=_app.PANEL_TRAIN),
        Command("eval", "mmpx.cli.eval:eval_", panel=_app.PANEL_TRAIN),
        Command("compare", "mmpx.cli.compare:compare", panel=_app.PANEL_TRAIN),
        Command("plot", "mmpx.cli.plot:plot", panel=_app.PANEL_TRAIN),
        Command("report", "mmpx.cli.report:report", panel=_app.PANEL_TRAIN),
        Command("infer", "mmpx.cli.infer:infer", panel=_app.PANEL_DEPLOY),
        Command("export", "mmpx.cli.export:app", help="Export a trained model (ONNX with a decoding sidecar).",
                panel=_app.PANEL_DEPLOY),
        Command("publish", "mmpx.cli.publish:publish", panel=_app.PANEL_DEPLOY),
        Command("doctor", "mmpx.cli.doctor:doctor", panel=_app.PANEL_ENV),
        Command("plugins", "mmpx.cli.plugins:app", help="List installed plugins, or start a new one.",
                panel=_app.PANEL_ENV),
        Command("configs", "mmpx.cli.configs:app", help="List shipped configs, print or copy one.",
                panel=_app.PANEL_TRAIN),
    ]
