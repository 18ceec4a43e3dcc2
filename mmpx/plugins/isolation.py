"""Running plugin code so that it cannot take ``mmpx`` down, write into ``--json`` output, or swallow Ctrl-C."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import traceback


def short_error(exc: BaseException) -> str:
    """``Type: message (file:line)``: where a plugin's code raised, in one line."""
    frame = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({frame[0].filename}:{frame[0].lineno})" if frame else ""
    return f"{type(exc).__name__}: {exc}{where}"


class UserInterrupt(KeyboardInterrupt):
    """Ctrl-C pressed by the user (SIGINT) while plugin code ran: passed on, unlike a plugin's own raise."""

    def __str__(self) -> str:
        return "interrupted"


@contextlib.contextmanager
def isolated():
    """Run plugin code: its prints go to stderr (``--json`` stays clean), and a real Ctrl-C stays a
    KeyboardInterrupt (``UserInterrupt``) while one the plugin raises itself is just another error."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        def on_sigint(signum, frame):
            raise UserInterrupt()

        previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
