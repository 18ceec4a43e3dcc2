"""One run of ``mmpx``: the command line as the user typed it, ``--debug``, and whether SIGTERM is ending it."""

from __future__ import annotations

import os

from mmpx.plugins.manager import env_flag

_state: dict = {"debug": env_flag(os.environ.get("MMPX_DEBUG")), "argv": None, "terminated": False}
_ROOT_FLAGS = ("--debug",)


def debug() -> bool:
    """Whether errors show their full traceback (``--debug`` or ``MMPX_DEBUG=1``)."""
    return _state["debug"]


def set_debug() -> None:
    _state["debug"] = True


def terminated() -> bool:
    """Whether SIGTERM is what ends this run."""
    return _state["terminated"]


def set_argv(argv: list[str]) -> None:
    _state["argv"] = argv


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


def _terminate(signum, frame) -> None:
    """SIGTERM (``kill``, ``timeout``, a batch system) ends a command as Ctrl-C does: the same clean-up runs
    (staging folders removed, streamed results closed), then one line and exit status 143 (128 + 15)."""
    import signal

    _state["terminated"] = True
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM while cleaning up ends the process
    raise KeyboardInterrupt


def catch_sigterm() -> None:
    """Let SIGTERM end the command through :func:`_terminate`, unless someone else already handles it."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) in (
            signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, _terminate)
        # forked workers (a conversion's pool, data loaders) are ended by their parent with SIGTERM: they must die
        # quietly, not raise in the middle of a task
        os.register_at_fork(after_in_child=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
