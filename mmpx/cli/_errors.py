"""How a command's end is told: a known error is one line and a hint (exit 1), Ctrl-C one line (130), SIGTERM
one line (143); ``--debug`` shows the traceback instead."""

from __future__ import annotations

import sys
from typing import NoReturn

from mmpx.cli import _session
from mmpx.errors import MmpxError

UNEXPECTED = "this is unexpected; rerun with --debug (or MMPX_DEBUG=1) for the traceback and report it"


def report_error(message: str, hint: str | None) -> None:
    """Print one error line (and its hint) to stderr."""
    from rich.markup import escape

    from mmpx.cli._output import err_console

    err = err_console()
    err.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True)  # messages may hold [brackets]
    if hint:
        err.print(f"[bold]hint:[/bold] {escape(hint)}", markup=True)


def stopped(exc: SystemExit | KeyboardInterrupt) -> None:
    """A command stopped early: SIGTERM exits 143 here; Typer's answer to Ctrl-C (exit 130) is said in one line.
    The caller re-raises ``exc`` when this returns."""
    if _session.terminated():
        report_error("terminated (SIGTERM)", None)
        sys.exit(143)
    if isinstance(exc, SystemExit) and exc.code == 130 and not _session.debug():
        report_error("interrupted", None)


def fail(exc: Exception, host) -> NoReturn:
    """One line for an error and exit 1: the error's own message, ordinary trouble with the machine, the plugin
    whose code raised it, or else an unexpected error to report. Ctrl-C that arrived inside an import or a
    ``__set_name__`` comes wrapped (a RuntimeError caused by KeyboardInterrupt): it ends as an interrupt."""
    if _caused_by_interrupt(exc):
        stopped(SystemExit(130))
        sys.exit(130)
    if isinstance(exc, MmpxError):
        report_error(exc.message, exc.hint)
        sys.exit(1)
    known = environment_error(exc)
    if known is None:  # raised from a plugin's code: name it and where to report it
        from mmpx.plugins.blame import plugin_error

        known = plugin_error(exc, host)
    report_error(*(known or (describe(exc), UNEXPECTED)))
    sys.exit(1)


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, KeyboardInterrupt):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def describe(exc: BaseException) -> str:
    """``Type: first line of the message``, or where it was raised when the message is empty (bare asserts)."""
    import traceback

    text = str(exc).strip()
    if text:
        return f"{type(exc).__name__}: {text.splitlines()[0]}"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" at {frames[-1].filename}:{frames[-1].lineno} ({frames[-1].line})" if frames else ""
    return f"{type(exc).__name__}{where}"


def _os_error(err: OSError) -> tuple[str, str] | None:
    """(message, hint) for a full disk, a read-only or protected path, a file in the way."""
    import errno

    path = err.filename or "a file"
    if err.errno == errno.ENOSPC:
        return f"no space left on the device while writing {path}", "free some space and run it again"
    if err.errno == errno.EROFS:
        return f"{path} is on a read-only file system", "write the output somewhere else"
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {path}", "check the path's permissions, or write somewhere else"
    if err.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        return f"{path}: {err.strerror} (a file or folder is in the way)", "remove it or choose another path"
    return None


def _text_error(text: str) -> tuple[str, str] | None:
    """(message, hint) for no network, or a type no registry knows, told by the message alone."""
    import re

    if "Temporary failure in name resolution" in text or "Name or service not known" in text:
        return f"no network: {text.splitlines()[0][:200]}", "a checkpoint URL needs the network; use a local file"
    unknown = re.search(r"'?(\w+) is not in the ([\w:]+) registry", text)
    if unknown:
        return (f"unknown type {unknown.group(1)!r} in the config ({unknown.group(2)} registry)",
                "check the spelling; a plugin's class needs the plugin installed and not blocked "
                "(`mmpx plugins list`), or custom_imports in the config")
    return None


def environment_error(exc: BaseException) -> tuple[str, str] | None:
    """(message, hint) for ordinary trouble with the machine or the config, which is not a bug to report:
    a full disk, a read-only or protected path, a file in the way, no network, a type no registry knows."""
    chain, cause = [], exc
    while cause is not None and len(chain) < 10:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    for err in chain:
        if isinstance(err, OSError) and err.errno is not None:
            known = _os_error(err)
            if known is not None:
                return known
        known = _text_error(str(err))
        if known is not None:
            return known
    return None


__all__ = ["describe", "environment_error", "fail", "report_error", "stopped"]
