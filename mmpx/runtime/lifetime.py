"""Processes that end with the process that started them (Linux).

A data-loader worker or a torchrun child whose parent was SIGKILLed is never told: a killed ``mmpx quickstart``
left its loader worker running for 30 minutes. :func:`die_with_parent` asks the kernel to SIGKILL the caller
when its parent ends (``prctl(PR_SET_PDEATHSIG)``); elsewhere it does nothing.
"""

from __future__ import annotations

import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int | None = None) -> bool:
    """SIGKILL this process when its parent ends; True when the kernel took the request.

    ``parent``: the pid the caller expects as its parent. If that one is already gone (it died before this call:
    the request would never fire), the process ends now.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent is not None and os.getppid() != parent:
        os._exit(1)
    return True


def preexec() -> None:
    """For ``subprocess.Popen(..., preexec_fn=preexec)``: the child dies with this process."""
    die_with_parent()


__all__ = ["die_with_parent", "preexec"]
