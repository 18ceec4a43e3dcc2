"""mmpose-ext's own commands, contributed through the same hooks a third-party plugin uses."""

from __future__ import annotations

from pathlib import Path

from mmpx.plugins.hookspecs import hookimpl
from mmpx.plugins.types import CliCommand, ConfigFile, Converter

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
def mmpx_converters() -> list[Converter]:
    from mmpx.cli import convert

    return [
        Converter("labelme", convert.labelme),
        Converter("yolo", convert.yolo),
        Converter("to-yolo", convert.to_yolo),
    ]


@hookimpl
def mmpx_cli_commands() -> list[CliCommand]:
    from mmpx.cli import _app

    # "module:name" references: a command's module is imported only when that command is run (or --help)
    return [
        CliCommand("check", "mmpx.cli.check:app", help="Check a dataset before training.", panel=_app.PANEL_DATA),
        CliCommand("data", "mmpx.cli.data:app", help="Dataset utilities: synthetic data.", panel=_app.PANEL_DATA),
        CliCommand("metainfo", "mmpx.cli.metainfo:app", help="Make and check MMPose metainfo files.",
                   panel=_app.PANEL_DATA),
        CliCommand("browse", "mmpx.cli.browse:browse", panel=_app.PANEL_DATA),
        CliCommand("suggest", "mmpx.cli.suggest:suggest", panel=_app.PANEL_DATA),
        CliCommand("quickstart", "mmpx.cli.quickstart:quickstart", panel=_app.PANEL_TRAIN),
        CliCommand("train", "mmpx.cli.train:train", panel=_app.PANEL_TRAIN),
        CliCommand("test", "mmpx.cli.train:test", panel=_app.PANEL_TRAIN),
        CliCommand("eval", "mmpx.cli.eval:eval_", panel=_app.PANEL_TRAIN),
        CliCommand("compare", "mmpx.cli.compare:compare", panel=_app.PANEL_TRAIN),
        CliCommand("plot", "mmpx.cli.plot:plot", panel=_app.PANEL_TRAIN),
        CliCommand("report", "mmpx.cli.report:report", panel=_app.PANEL_TRAIN),
        CliCommand("infer", "mmpx.cli.infer:infer", panel=_app.PANEL_DEPLOY),
        CliCommand("export", "mmpx.cli.export:app", help="Export a trained model (ONNX with a decoding sidecar).",
                   panel=_app.PANEL_DEPLOY),
        CliCommand("publish", "mmpx.cli.publish:publish", panel=_app.PANEL_DEPLOY),
        CliCommand("doctor", "mmpx.cli.doctor:doctor", panel=_app.PANEL_ENV),
        CliCommand("plugins", "mmpx.cli.plugins:app", help="List installed plugins, or start a new one.",
                   panel=_app.PANEL_ENV),
        CliCommand("configs", "mmpx.cli.configs:app", help="List shipped configs, print or copy one.",
                   panel=_app.PANEL_TRAIN),
    ]
