"""The ``mmpx`` entry point: builds the command tree from the plugin host, runs the command and tells how it
ended (:mod:`mmpx.cli._errors`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mmpx import __version__
from mmpx.cli import _errors, _session
from mmpx.cli._app import PanelOrderedGroup, make_typer
from mmpx.cli._mount import mount_commands
from mmpx.cli._output import report_warning
from mmpx.errors import MmpxError
from mmpx.plugins.manager import PluginHost, get_host
from mmpx.runtime.threads import apply_env

HELP = """mmpose-ext: MMPose, end to end for your own keypoint data.

From labelled files to a trained, evaluated, exported model. Run [bold]mmpx doctor[/bold] first on a new machine.
"""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mmpx {__version__} (mmpose-ext)")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks (or set MMPX_DEBUG=1).")
    ] = False,
) -> None:
    if debug:
        _session.set_debug()


def build_app(host: PluginHost, command: str | None = None) -> typer.Typer:
    """The ``mmpx`` app: built-in commands and every plugin's commands and converters.

    With ``command`` (the name the user typed) only that command is built, when it is one: Typer turns every
    command's signature into click parameters, which is most of a short command's start-up. Otherwise (a root
    flag, ``--help``, an unknown name, ``plugins``/``doctor``), the full tree.
    """
    app = make_typer(help=HELP, add_completion=False, cls=PanelOrderedGroup)
    app.callback()(_root)
    mount_commands(app, host, command)
    return app


def _command_line(argv: list[str] | None) -> list[str]:
    """The arguments as Typer is to parse them: ``--debug`` moved to the front, and train's bare ``--resume``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv[1:]:  # accepted after the command too, where people type it
        argv.remove("--debug")
        argv.insert(0, "--debug")
        _session.set_debug()
    if next((a for a in argv if not a.startswith("-")), None) == "train":  # MMPose's bare --resume: the latest
        from mmpx.cli._launch import bare_resume

        argv = bare_resume(argv)
    return argv


def main(argv: list[str] | None = None) -> None:
    """Run ``mmpx``; known errors become one line plus a hint and exit code 1; Ctrl-C exits 130, SIGTERM 143."""
    import warnings

    # mmengine imports pkg_resources, which warns on every run; setup pins setuptools < 81 on purpose
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    try:  # before anything imports torch: OpenMP reads its wait policy once, at load (mmpx.runtime.threads)
        apply_env()
    except MmpxError as exc:
        _errors.fail(exc, None)
    argv = _command_line(argv)
    _session.set_argv(argv)
    host = get_host()
    for warning in host.warnings:
        report_warning(warning)
    app = build_app(host, next((a for a in argv if not a.startswith("-")), None))
    _session.catch_sigterm()
    try:
        app(args=argv, prog_name="mmpx")
    except (SystemExit, KeyboardInterrupt) as exc:
        _errors.stopped(exc)
        raise
    except Exception as exc:
        if _session.debug():
            raise
        _errors.fail(exc, host)
