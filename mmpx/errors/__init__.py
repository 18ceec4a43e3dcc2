"""Errors a user can act on. The CLI prints them as one line plus a hint and exits with code 1."""

from __future__ import annotations


class MmpxError(Exception):
    """A problem the user can fix.

    Args:
        message: what went wrong, naming the file, field or value involved.
        hint: how to fix it, ideally one command or one edit.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} (hint: {self.hint})"


class ConfigError(MmpxError):
    """A config file is missing, does not parse, or names something that does not exist."""


class CheckpointError(MmpxError):
    """A checkpoint file is missing, truncated or not a checkpoint."""


class UntrustedCheckpointError(CheckpointError):
    """A checkpoint needs pickle globals outside the allow-list; loading it could run code."""

    def __init__(self, path: str, globals_: list[str]) -> None:
        self.path = path
        self.globals = globals_
        names = ", ".join(globals_) if globals_ else "(unknown)"
        super().__init__(
            f"refused to load checkpoint {path}: it needs pickle global(s) {names}, which mmpose-ext does not "
            "allow because unpickling them can run arbitrary code",
            "if you trust this file, pass --trust-checkpoint to the mmpx command, or set "
            f"MMPX_TRUSTED_CHECKPOINTS={path} (several paths separated by '{_pathsep()}')",
        )


class PluginError(MmpxError):
    """A plugin failed to load or contributed something invalid."""


def _pathsep() -> str:
    import os

    return os.pathsep


__all__ = ["MmpxError", "ConfigError", "CheckpointError", "UntrustedCheckpointError", "PluginError"]
