"""The shape every compatibility fix shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FixStatus:
    """What ``mmpx doctor`` shows for one fix.

    ``needed``: the installed versions have the problem. ``active``: the fix is applied (or, for a check-only
    fix, the problem is absent). ``problem``: set when something is still broken, with ``fix`` the command
    that mends it.
    """

    name: str
    summary: str
    needed: bool
    active: bool
    detail: str = ""
    problem: str | None = None
    fix: str | None = None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class Fix:
    """A named fix: ``needed()`` probes the installed versions, ``patch()`` applies it once."""

    name: str
    summary: str
    needed: Callable[[], bool]
    patch: Callable[[], str] | None
    check: Callable[[], tuple[str | None, str | None]] | None = None  # -> (problem, fix command)
    _applied: bool = False
    _detail: str = ""

    def apply(self) -> bool:
        """Patch if needed (once); True when the patch is in place. Runs no ``check`` (that is for doctor)."""
        if not self._applied and self.patch is not None and self.needed():
            self._detail = self.patch()
            self._applied = True
        return self._applied

    def status(self) -> FixStatus:
        needed = self.needed()
        problem, fix = self.check() if self.check else (None, None)
        if needed and self.patch is not None and not self._applied:
            problem = problem or "needed but not applied: import mmpose_ext (or add it to custom_imports)"
        active = self._applied if self.patch is not None else problem is None
        detail = self._detail or ("not needed with the installed versions" if not needed else "")
        return FixStatus(self.name, self.summary, needed, active, detail, problem, fix)
