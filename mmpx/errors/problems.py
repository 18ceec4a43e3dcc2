"""Problem records shared by ``mmpx check data`` and ``mmpx metainfo check``.

A check never stops at the first problem: it returns a list of :class:`Problem`, each naming the file and the
field so that a user can go straight to it, and saying how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding of a check.

    Args:
        severity: ``"error"`` (training would fail or learn from wrong labels) or ``"warning"`` (suspicious,
            or MMPose silently works around it).
        file: the file the problem is in (as the user gave it), or ``None`` for an in-memory object.
        field: the path inside it, e.g. ``keypoint_info[3].swap`` or ``annotations[12].bbox``.
        message: what is wrong, with the offending value.
        hint: how to fix it.
        code: a short stable identifier (``"swap-asymmetric"``), for filtering and tests.
    """

    severity: str
    file: str | None
    field: str
    message: str
    hint: str = ""
    code: str = ""

    @property
    def where(self) -> str:
        """``file:field`` (or just the field)."""
        if not self.file:
            return self.field
        return f"{self.file}:{self.field}" if self.field else self.file

    def as_dict(self) -> dict:
        return {**asdict(self), "where": self.where}


def error(file: str | None, field: str, message: str, hint: str = "", code: str = "") -> Problem:
    return Problem(ERROR, file, field, message, hint, code)


def warning(file: str | None, field: str, message: str, hint: str = "", code: str = "") -> Problem:
    return Problem(WARNING, file, field, message, hint, code)


def count(problems: Iterable[Problem]) -> tuple[int, int]:
    """``(errors, warnings)``."""
    errors = warnings = 0
    for p in problems:
        if p.severity == ERROR:
            errors += 1
        else:
            warnings += 1
    return errors, warnings


def has_errors(problems: Iterable[Problem]) -> bool:
    return any(p.severity == ERROR for p in problems)


def print_table(problems: list[Problem], title: str, max_rows: int | None = None, console=None) -> None:
    """A rich table of problems, errors first, at most ``max_rows`` rows plus a line counting the rest."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    ordered = sorted(problems, key=lambda p: p.severity != ERROR)
    shown = ordered if max_rows is None or max_rows < 0 else ordered[:max_rows]
    table = Table(title=title)
    for column in ("severity", "where", "message", "hint"):
        table.add_column(column, overflow="fold")
    for p in shown:
        style = "red" if p.severity == ERROR else "yellow"
        # the file's name only: paths are long and the summary names the full one
        where = f"{Path(p.file).name}:{p.field}" if p.file and p.field else p.where
        table.add_row(f"[{style}]{p.severity}[/{style}]", escape(where), escape(p.message), escape(p.hint))
    console.print(table)
    rest = len(ordered) - len(shown)
    if rest > 0:
        errors, warnings = count(ordered[len(shown):])
        console.print(f"... and {rest} more ({errors} errors, {warnings} warnings): raise --max-rows "
                      "or use --json", highlight=False)
