"""Temporary files and folders: made locked, cleaned only when nobody holds them, originals recovered.

Every temporary name mmpx makes (``.mmpx-tmp-...``) is created and then locked (``flock``) by the process that
writes it, for as long as it writes. A later run removes a temporary only when nobody holds its lock: a process
killed in any way releases it, while a run from another PID namespace (a container sharing the folder) still
holds it and keeps its files. A folder moved aside while a new one is renamed in (``.mmpx-old-...``) is never
deleted by a cleanup: when the folder it stood for is missing it is put back (:func:`recover`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

from mmpx.atomic.lock import is_held, try_flock

# an unlocked temporary younger than this may belong to a run that created it and is about to lock it (the
# creator locks it right after creating it: microseconds, unless the machine stalls)
GRACE = 5.0
STALE_AFTER = 24 * 3600  # a temporary that cannot be locked (a file system without flock) counts after a day
OLD_MARK = "mmpx-old-"
TMP_MARK = "mmpx-tmp-"
_locks: dict[str, int] = {}  # path -> fd holding its lock


def lock_tmp(path: str | os.PathLike) -> None:
    """Lock the temporary file or folder ``path`` for this process until :func:`release` (or the process ends)."""
    key = os.path.abspath(path)
    if key in _locks:
        return
    try:
        fd = os.open(key, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        try_flock(fd)
    except OSError:  # no flock here: age decides (STALE_AFTER)
        pass
    _locks[key] = fd


def release(path: str | os.PathLike) -> None:
    """Drop this process's lock on a temporary (after it was renamed into place or removed)."""
    fd = _locks.pop(os.path.abspath(path), None)
    if fd is not None:
        os.close(fd)


def new_tmp_dir(parent: str | os.PathLike, prefix: str) -> Path:
    """A new, locked temporary folder ``parent/<prefix><random>`` (usual umask permissions, not mkdtemp's 0700)."""
    import secrets

    while True:
        path = Path(parent) / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
        except FileExistsError:
            continue
        lock_tmp(path)
        return path


def _age(entry: os.DirEntry) -> float:
    return time.time() - entry.stat(follow_symlinks=False).st_mtime


def _stale(entry: os.DirEntry) -> bool:
    if os.path.abspath(entry.path) in _locks:
        return False
    if entry.is_symlink():  # a link is never locked (the lock would be on its target): age decides
        return _age(entry) > STALE_AFTER
    return not is_held(entry.path) and _age(entry) >= GRACE


def clean_stale(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """Remove the temporary files and folders that ended runs left in ``folder``; returns what went.

    Only names mmpx makes (``mmpx-tmp-``) are touched, and only when no process holds their lock. Folders moved
    aside (``mmpx-old-``) are never removed here: see :func:`recover`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    walker = os.walk(folder) if recursive else [(str(folder), [], [])]
    for root, _, _ in walker:
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            if TMP_MARK not in entry.name:
                continue
            with contextlib.suppress(OSError):
                if not _stale(entry):
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.remove(entry.path)
                removed.append(Path(entry.path))
    return removed


def old_name(target: str | os.PathLike) -> Path:
    """A new name for moving ``target`` aside while its replacement is renamed in: ``.NAME.mmpx-old-<random>``."""
    import secrets

    target = Path(os.path.abspath(target))
    return target.with_name(f".{target.name}.{OLD_MARK}{secrets.token_hex(4)}")


def moved_aside(target: str | os.PathLike) -> list[Path]:
    """The copies of ``target`` that replacements moved aside (:func:`old_name`), oldest name first."""
    target = Path(os.path.abspath(target))
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [target.parent / n for n in sorted(names) if n.startswith(f".{target.name}.{OLD_MARK}")]


def move_in(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Rename the finished folder ``tmp`` to ``final``. An existing ``final`` is locked, moved aside
    (:func:`old_name`), the new one renamed in, then the old one deleted; if the second rename fails the old one
    is put back. A process killed between the two renames leaves the old folder aside for :func:`recover`.
    """
    tmp, final = Path(tmp), Path(final)
    if not final.exists():
        os.rename(tmp, final)
        return
    lock_tmp(final)  # the lock moves with the folder: recover() in another process leaves it alone
    old = old_name(final)
    try:
        os.rename(final, old)
        crash_point("between-renames")
        try:
            os.rename(tmp, final)
        except BaseException:
            os.rename(old, final)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        release(final)


def crash_point(name: str) -> None:
    """Die here (SIGKILL, as a power cut would) when ``MMPX_CRASH_AT`` names this point; the recovery tests use
    it to stop a real run at the worst moment. One environment look-up beside a rename costs nothing."""
    if os.environ.get("MMPX_CRASH_AT") == name:
        import signal

        os.kill(os.getpid(), signal.SIGKILL)


def recover(target: str | os.PathLike) -> list[str]:
    """Put back a folder that a crashed replacement moved aside; returns what was done, as sentences.

    ``target`` missing with a moved-aside copy beside it (the run died between its two renames): the copy is
    renamed back. ``target`` present and a copy beside it (the run died before deleting the copy): the copy is
    kept and named, never deleted. A copy still locked by a running replacement is left alone.
    """
    target = Path(os.path.abspath(target))
    notes = []
    for old in moved_aside(target):
        if is_held(old):
            continue
        if not target.exists() and not target.is_symlink():
            os.rename(old, target)
            notes.append(f"restored {target} from {old.name}, left by a run that stopped while replacing it")
        else:
            notes.append(f"{old} is a copy of {target} from before a replacement that did not finish; it was kept "
                         "(delete it yourself once you do not need it)")
    return notes


def recover_missing(paths) -> list[str]:
    """For each path that does not exist, put back the folder above it that a crashed replacement moved aside
    (under that folder's lock); returns what was done, as sentences. Readers call it before they look."""
    from mmpx.atomic.lock import hold

    notes = []
    for path in paths:
        path = Path(os.path.abspath(path))
        missing = next((p for p in [path, *path.parents] if not p.exists() and p.parent.exists()), None)
        if missing is not None and moved_aside(missing):
            with hold(missing, "folder"):
                notes += recover(missing)
    return notes


__all__ = ["GRACE", "clean_stale", "crash_point", "lock_tmp", "move_in", "moved_aside", "new_tmp_dir", "old_name",
           "recover", "recover_missing", "release"]
