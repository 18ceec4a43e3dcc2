"""Advisory locks (``fcntl.flock``) where two runs can meet: a dataset being appended to, a training work dir, a
pre-label folder. A second run is refused at once, naming who holds the lock.

The lock file is ``.NAME.mmpx-lock`` beside the target (not inside: a dataset folder is replaced by a rename while
locked). It is removed when the run ends; a killed run leaves it unlocked, since the kernel drops the lock when
the holding process ends however it ends (SIGKILL included), in any PID namespace that shares the file system. A
taker checks, once it holds the lock, that the file it locked is still the one at the path (a holder may have
removed it meanwhile), and tries again if not. The same process may take a lock it holds
again (counted), and a process started by a holder (torchrun children) skips the paths listed in
``MMPX_HELD_LOCKS``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from mmpx.errors import MmpxError

HELD_ENV = "MMPX_HELD_LOCKS"
_held: dict[str, list] = {}  # real path of the lock file -> [fd, count]


def lock_path(target: str | os.PathLike) -> Path:
    """The lock file of ``target``: ``.NAME.mmpx-lock`` in its parent folder."""
    target = Path(os.path.abspath(target))
    return target.parent / f".{target.name}.mmpx-lock"


def try_flock(fd: int) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when another open file holds it."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def is_held(path: str | os.PathLike) -> bool:
    """True when some process holds a lock on ``path`` (a file or a folder); a path that cannot be opened or
    locked counts as held, so callers that delete only unheld things stay on the safe side."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        return False
    except OSError:
        return True
    try:
        free = try_flock(fd)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may just have taken
    return not free


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info["started"]))
        return f"pid {info['pid']} on {info['host']}, started {started}: {info['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (it has not said who yet)"


def _take(path: Path, target: Path, what: str) -> int:
    """Open and lock ``path``; returns the descriptor holding the lock."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            if not _flock_or_warn(fd, path):
                raise MmpxError(f"{what} {target} is in use by another mmpx run ({_holder(path)})",
                                f"wait until it ends, or stop it; the lock goes with that process (lock file {path})")
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                info = dict(pid=os.getpid(), host=socket.gethostname(), started=time.time(),
                            command=" ".join(["mmpx", *sys.argv[1:]]) if sys.argv else "python")
                os.ftruncate(fd, 0)
                os.pwrite(fd, json.dumps(info).encode(), 0)
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder removed it after we opened it: take the new one


def _flock_or_warn(fd: int, path: Path) -> bool:
    """``try_flock``; on a file system without locks (some network mounts) the run goes on, said once."""
    try:
        return try_flock(fd)
    except OSError as exc:
        if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):
            raise
        print(f"warning: {path.parent} does not support file locks ({exc.strerror}): a second mmpx run writing "
              "there at the same time would not be noticed", file=sys.stderr, flush=True)
        return True


def _inherited(target: Path) -> bool:
    held = os.environ.get(HELD_ENV, "")
    return str(target) in held.split(os.pathsep) if held else False


@contextlib.contextmanager
def hold(target: str | os.PathLike, what: str) -> Iterator[Path]:
    """Hold the lock of ``target`` (a file or folder path, existing or not) for the block.

    Args:
        target: what the run writes; the lock file goes beside it.
        what: the command's words for it in the error, e.g. ``"dataset"`` or ``"work dir"``.

    Raises:
        MmpxError: another process holds it (named, with its command line and start time).
    """
    target = Path(os.path.abspath(target))
    path = lock_path(target)
    if _inherited(target):
        yield path
        return
    key = os.path.realpath(path)
    if key in _held:
        _held[key][1] += 1
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        _held[key] = [_take(path, target, what), 1]
    try:
        yield path
    finally:
        _held[key][1] -= 1
        if _held[key][1] == 0:
            fd = _held.pop(key)[0]
            with contextlib.suppress(OSError):
                os.unlink(path)  # while still locked: a taker that opened it sees another file and retries
            os.close(fd)


def held_env(*targets: str | os.PathLike) -> dict[str, str]:
    """Environment for child processes that work under this process's locks on ``targets``."""
    paths = [str(Path(os.path.abspath(t))) for t in targets]
    old = os.environ.get(HELD_ENV)
    return {HELD_ENV: os.pathsep.join([*([old] if old else []), *paths])}
