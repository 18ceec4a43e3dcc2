"""The ``mmpx`` entry point: builds the command tree from the plugin host and maps errors to one clear line."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from mmpx import __version__
from mmpx.cli._app import PANEL_DATA, PanelOrderedGroup, make_typer
from mmpx.errors import MmpxError
from mmpx.plugins.manager import PluginHost, env_flag, get_host

HELP = """mmpose-ext: MMPose, end to end for your own keypoint data.

From labelled files to a trained, evaluated, exported model. Run [bold]mmpx doctor[/bold] first on a new machine.
"""

_state: dict = {"debug": env_flag(os.environ.get("MMPX_DEBUG")), "argv": None, "terminated": False}
_ROOT_FLAGS = ("--debug",)


def command_argv() -> list[str]:
    """The running command's line as the user typed it, from the command's name on (root flags left out).

    ``mmpx train --nproc N`` hands this to its torchrun children, so every option reaches them unchanged.
    """
    argv = _state["argv"]
    if argv is None:
        raise RuntimeError("command_argv() is only known inside mmpx's main()")
    argv = list(argv)
    while argv and argv[0] in _ROOT_FLAGS:
        argv.pop(0)
    return argv


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
        _state["debug"] = True


def _mountable(name: str, command, help: str | None) -> typer.Typer:
    """A one-command app, so that a plugin's unusable function fails here (recorded) and not at ``app()``."""
    probe = make_typer()
    if isinstance(command, typer.Typer):
        probe.add_typer(command, name=name, help=help)
    elif callable(command):
        probe.command(name=name, help=help)(command)
    else:
        raise TypeError(f"{name}: expected a typer.Typer or a function, got {type(command).__name__}")
    typer.main.get_command(probe)
    return probe


REPORTING = ("plugins", "doctor")  # they report every contribution's health: every one must be probed


def build_app(host: PluginHost, command: str | None = None) -> typer.Typer:
    """The ``mmpx`` app: built-in commands and every plugin's commands and converters.

    With ``command`` (the name the user typed) only that command is built, when it is one: Typer turns every
    command's signature into click parameters, which is most of a short command's start-up. Otherwise (a root
    flag, ``--help``, an unknown name, ``plugins``/``doctor``), the full tree.
    """
    names = {c.name for c in host.cli_commands()} | ({"convert"} if host.converters() else set())
    only = command if command in names and command not in REPORTING else None
    app = make_typer(help=HELP, add_completion=False, cls=PanelOrderedGroup)
    app.callback()(_root)
    for contrib in host.cli_commands():
        cmd = contrib.item
        if only is not None and cmd.name != only:
            continue
        if host.is_builtin(contrib.plugin):  # mmpx's own commands are tested; a plugin's may be unusable
            target = cmd.resolve()
        else:
            try:
                target = cmd.resolve()
                _mountable(cmd.name, target, cmd.help)
            except Exception as exc:
                host.record_error(contrib.plugin, f"mmpx_cli_commands: {cmd.name}: {type(exc).__name__}: {exc}")
                continue
        if isinstance(target, typer.Typer):
            app.add_typer(target, name=cmd.name, help=cmd.help, rich_help_panel=cmd.panel)
        else:
            app.command(name=cmd.name, help=cmd.help, rich_help_panel=cmd.panel)(target)
    if only is not None and only != "convert":
        return app

    convert = make_typer(help="Convert datasets to COCO keypoints plus an MMPose metainfo file.")
    mounted = 0
    for contrib in host.converters():
        conv = contrib.item
        if not host.is_builtin(contrib.plugin):
            try:
                _mountable(conv.name, conv.function, conv.help)
            except Exception as exc:
                host.record_error(contrib.plugin, f"mmpx_converters: {conv.name}: {type(exc).__name__}: {exc}")
                continue
        convert.command(name=conv.name, help=conv.help)(conv.function)
        mounted += 1
    if mounted:
        app.add_typer(convert, name="convert", rich_help_panel=PANEL_DATA)
    return app


def report_error(message: str, hint: str | None) -> None:
    """Print one error line (and its hint) to stderr."""
    from rich.console import Console
    from rich.markup import escape

    err = Console(stderr=True, highlight=False, soft_wrap=True)

    err.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True)  # messages may hold [brackets]
    if hint:
        err.print(f"[bold]hint:[/bold] {escape(hint)}", markup=True)


def report_warning(message: str) -> None:
    """One warning line on stderr (never stdout: ``--json`` output stays parseable)."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[yellow]warning:[/yellow] {escape(message)}")


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, or where it was raised when the message is empty (bare asserts)."""
    import traceback

    text = str(exc).strip()
    if text:
        return f"{type(exc).__name__}: {text.splitlines()[0]}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].line})" if frames else ""
    return f"{type(exc).__name__}{where}"


def _terminate(signum, frame) -> None:
    """SIGTERM (``kill``, ``timeout``, a batch system) ends a command as Ctrl-C does: the same clean-up runs
    (staging folders removed, streamed results closed), then one line and exit status 143 (128 + 15)."""
    import signal

    _state["terminated"] = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM while cleaning up ends the process
    raise KeyboardInterrupt


def _catch_sigterm() -> None:
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _terminate)
        # forked workers (a conversion's pool, data loaders) are ended by their parent with SIGTERM: they must die
        # quietly, not raise in the middle of a task
        os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))


def main(argv: list[str] | None = None) -> None:
    """Run ``mmpx``; known errors become one line plus a hint and exit code 1; Ctrl-C exits 130, SIGTERM 143."""
    import warnings

    # mmengine imports pkg_resources, which warns on every run; setup pins setuptools < 81 on purpose
    warnings.filterwarnings("ignore", "pkg_resources is deprecated", UserWarning)
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv[1:]:  # accepted after the command too, where people type it
        argv.remove("--debug")
        argv.insert(0, "--debug")
        _state["debug"] = True
    command = next((a for a in argv if not a.startswith("-")), None)
    if command == "train":  # MMPose's bare --resume means the latest checkpoint
        from mmpx.cli.train import bare_resume

        argv = bare_resume(argv)
    _state["argv"] = argv
    host = get_host()
    for warning in host.warnings:
        report_warning(warning)
    app = build_app(host, command)
    _catch_sigterm()
    try:
        app(args=argv, prog_name="mmpx")
    except SystemExit as exc:
        if _state["terminated"]:
            report_error("terminated (SIGTERM)", None)
            sys.exit(143)
        if exc.code == 130 and not _state["debug"]:  # Typer's answer to Ctrl-C: say so, in one line
            report_error("interrupted", None)
        raise
    except KeyboardInterrupt:
        if _state["terminated"]:
            report_error("terminated (SIGTERM)", None)
            sys.exit(143)
        raise
    except MmpxError as exc:
        if _state["debug"]:
            raise
        report_error(exc.message, exc.hint)
        sys.exit(1)
    except Exception as exc:
        if _state["debug"]:
            raise
        known = environment_error(exc)
        if known is None:  # raised from a plugin's code: name it and where to report it
            from mmpx.plugins.blame import plugin_error
            known = plugin_error(exc, host)
        if known is not None:
            report_error(*known)
        else:
            report_error(
                describe(exc),
                "this is unexpected; rerun with --debug (or MMPX_DEBUG=1) for the traceback and report it",
            )
        sys.exit(1)


def environment_error(exc: BaseException) -> tuple[str, str] | None:
    """(message, hint) for ordinary trouble with the machine or the config, which is not a bug to report:
    a full disk, a read-only or protected path, a file in the way, no network, a type no registry knows."""
    import errno
    import re

    chain, cause = [], exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for err in chain:
        if isinstance(err, OSError) and err.errno is not None:
            path = err.filename or "a file"
            if err.errno == errno.ENOSPC:
                return f"no space left on the device while writing {path}", "free some space and run it again"
            if err.errno == errno.EROFS:
                return f"{path} is on a read-only file system", "write the output somewhere else"
            if err.errno in (errno.EACCES, errno.EPERM):
                return f"permission denied: {path}", "check the path's permissions, or write somewhere else"
            if err.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
                return f"{path}: {err.strerror} (a file or folder is in the way)", "remove it or choose another path"
        text = str(err)
        if "Temporary failure in name resolution" in text or "Name or service not known" in text:
            return f"no network: {text.splitlines()[0][:200]}", "a checkpoint URL needs the network; use a local file"
        unknown = re.search(r"'?(\w+) is not in the ([\w:]+) registry", text)
        if unknown:
            return (f"unknown type {unknown.group(1)!r} in the config ({unknown.group(2)} registry)",
                    "check the spelling; a plugin's class needs the plugin installed and not blocked "
                    "(`mmpx plugins list`), or custom_imports in the config")
    return None
