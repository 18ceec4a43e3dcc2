"""mmpose-ext's own commands, contributed through the same hooks a third-party plugin uses."""

from __future__ import annotations

from mmpx.plugins.hookspecs import hookimpl
from mmpx.plugins.types import CliCommand, Converter


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
    from mmpx.cli import _app, browse, doctor, infer, plot, plugins, publish, quickstart, train
    from mmpx.cli import check as check_cli
    from mmpx.cli import compare as compare_cli
    from mmpx.cli import data as data_cli
    from mmpx.cli import eval as eval_cli
    from mmpx.cli import export as export_cli
    from mmpx.cli import metainfo as metainfo_cli

    return [
        CliCommand("check", check_cli.app, help="Check a dataset before training.", panel=_app.PANEL_DATA),
        CliCommand("data", data_cli.app, help="Dataset utilities: synthetic data.", panel=_app.PANEL_DATA),
        CliCommand(
            "metainfo", metainfo_cli.app, help="Make and check MMPose metainfo files.", panel=_app.PANEL_DATA
        ),
        CliCommand("browse", browse.browse, panel=_app.PANEL_DATA),
        CliCommand("quickstart", quickstart.quickstart, panel=_app.PANEL_TRAIN),
        CliCommand("train", train.train, panel=_app.PANEL_TRAIN),
        CliCommand("test", train.test, panel=_app.PANEL_TRAIN),
        CliCommand("eval", eval_cli.eval_, panel=_app.PANEL_TRAIN),
        CliCommand("compare", compare_cli.compare, panel=_app.PANEL_TRAIN),
        CliCommand("plot", plot.plot, panel=_app.PANEL_TRAIN),
        CliCommand("infer", infer.infer, panel=_app.PANEL_DEPLOY),
        CliCommand(
            "export", export_cli.app, help="Export a trained model (ONNX with a decoding sidecar).",
            panel=_app.PANEL_DEPLOY,
        ),
        CliCommand("publish", publish.publish, panel=_app.PANEL_DEPLOY),
        CliCommand("doctor", doctor.doctor, panel=_app.PANEL_ENV),
        CliCommand(
            "plugins", plugins.app, help="List installed plugins and what they add.", panel=_app.PANEL_ENV
        ),
    ]
