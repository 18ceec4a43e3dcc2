"""Where the commands print: tables and results on stdout, notes, warnings and progress on stderr.

Every rich console of the command line is made here, so that each kind of output looks the same in every command.
A console is made per use (not kept): rich decides colours and width when it is made, and a test's captured
stream or a redirected one must be seen as it is then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console


def out_console(highlight: bool = True) -> Console:
    """stdout, for tables and results (what ``--json`` replaces); ``highlight=False`` leaves numbers and paths in
    the plain colour."""
    from rich.console import Console

    return Console(highlight=highlight)


def err_console(plain: bool = True) -> Console:
    """stderr, for what is said about the work. ``plain`` (notes, warnings, errors): no highlighting and no
    wrapping, so that a long path stays one line to copy; else rich's defaults (progress bars, stage lines)."""
    from rich.console import Console

    if plain:
        return Console(stderr=True, highlight=False, soft_wrap=True)
    return Console(stderr=True)


def report_warning(message: str) -> None:
    """One warning line on stderr (never stdout: ``--json`` output stays parseable)."""
    from rich.markup import escape

    err_console().print(f"[yellow]warning:[/yellow] {escape(message)}")


__all__ = ["err_console", "out_console", "report_warning"]
