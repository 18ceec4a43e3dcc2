"""mmpose-ext's own commands, contributed through the same hooks a third-party plugin uses."""

from __future__ import annotations

from mmpx.plugins.hookspecs import hookimpl
from mmpx.plugins.types import CliCommand


@hookimpl
def mmpx_cli_commands() -> list[CliCommand]:
    from mmpx.cli import _app, doctor, plugins, train

    return [
        CliCommand("train", train.train, panel=_app.PANEL_TRAIN),
        CliCommand("test", train.test, panel=_app.PANEL_TRAIN),
        CliCommand("doctor", doctor.doctor, panel=_app.PANEL_ENV),
        CliCommand("plugins", plugins.app, help="List installed plugins and what they add.", panel=_app.PANEL_ENV),
    ]
