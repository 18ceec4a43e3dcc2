"""One way to write files: a temporary file beside the target, then ``os.replace``. A reader sees the old file or
the complete new one, never a part; a failed or interrupted write removes its temporary file and leaves the
target untouched. Every command that writes a user-visible file goes through here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from mmpx.atomic.stale import clean_stale, lock_tmp, move_in, recover, release
from mmpx.errors import MmpxError

TMP_PREFIX = ".mmpx-tmp-"


def tmp_name(name: str) -> str:
    """The prefix of a temporary name for ``name`` in this process: ``.mmpx-tmp-p<pid>-<name>.``.

    The process id is for people reading a folder; whether a temporary is still in use is told by its lock
    (:func:`~mmpx.atomic.stale.lock_tmp`, :func:`~mmpx.atomic.stale.clean_stale`), which works across PID namespaces.
    """
    return f"{TMP_PREFIX}p{os.getpid()}-{name}."


def file_mode() -> int:
    """The mode a plain ``open()`` would give a new file (0666 less the umask); ``mkstemp`` makes them 0600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp", durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends without error it replaces ``path``.

    For writers that want a file name (``torch.save``, ``cv2.VideoWriter``, ``fig.savefig``). The temporary file
    exists (empty) when the block starts. ``durable`` also ``fsync``-s the file and the folder (checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=tmp_name(path.name), suffix=suffix)
    os.close(fd)
    lock_tmp(tmp)  # a cleanup by another run leaves it alone while this one writes
    try:
        yield Path(tmp)
        os.chmod(tmp, file_mode())
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    finally:
        release(tmp)
    if durable:
        fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "wb", durable: bool = False, **kwargs):
    """``open(path, mode)`` for writing, made atomic (see :func:`atomic_path`)."""
    with atomic_path(path, durable=durable) as tmp, open(tmp, mode, **kwargs) as f:
        yield f
        f.flush()


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def write_json(path: str | os.PathLike, data, indent: int | None = 2) -> None:
    """JSON (compact when ``indent`` is None) with a final newline."""
    separators = (",", ":") if indent is None else None
    write_text(path, json.dumps(data, indent=indent, separators=separators) + "\n")


def replace_dir(tmp: str | os.PathLike, final: str | os.PathLike) -> list[str]:
    """Replace folder ``final`` by the finished folder ``tmp``: a reader sees the old set or the new one.

    A copy of ``final`` that a killed replacement left aside is put back first (:func:`~mmpx.atomic.stale.recover`;
    returns its notes), then :func:`~mmpx.atomic.stale.move_in`.
    """
    notes = recover(final)
    move_in(tmp, final)
    return notes


__all__ = [
    "TMP_PREFIX",
    "check_writable",
    "clean_stale",
    "lock_tmp",
    "release",
    "atomic_open",
    "atomic_path",
    "file_mode",
    "fsync_dir",
    "replace_dir",
    "tmp_name",
    "write_bytes",
    "write_json",
    "write_text",
]


def check_writable(path: str | os.PathLike, option: str, folder: bool = False) -> None:
    """Raise :class:`~mmpx.errors.MmpxError` now if ``path`` (a file, or a folder with ``folder``) cannot be
    written later, so that a long run does not find it out at the end: something of the other kind in the
    way, a file where a parent folder must be made, or a folder that refuses a file (read-only, permissions).
    A probe file is created and removed in the nearest existing folder."""
    target = Path(path)
    kind = "a folder" if folder else "a file"
    if target.is_dir() and not folder:
        raise MmpxError(f"{option} {target} is a folder, expected a file path", f"give a file name, e.g. "
                        f"{target / 'results.json'}")
    if target.exists() and not target.is_dir() and folder:
        raise MmpxError(f"{option} {target} is a file, expected a folder", "give a folder path (new or existing)")
    base = target if folder and target.is_dir() else target.parent
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise MmpxError(f"{option} {target}: {base} is a file, so {kind} cannot be made under it",
                        "choose another path")
    try:
        fd, probe = tempfile.mkstemp(prefix=tmp_name("probe"), dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise MmpxError(f"{option} {target}: cannot write in {base} ({exc.strerror})",
                        "check the folder's permissions and free space, or write somewhere else") from None
