"""What a converter may read and what it may write.

- A file name taken from an annotation file (labelme ``imagePath``, COCO ``file_name``, a YOLO list line) must lie
  inside its root (the source folder, the image folder, the dataset folder) once ``..`` is resolved; absolute
  names count too. The check is on the name as written: links that sit inside the root are followed (a
  symlinked image folder is an ordinary layout), names that climb out of it are not.
- Only regular files are opened (after following links): a FIFO would block forever, ``/dev/zero`` never ends.
- An image must be non-empty and start like an image: a 0-byte or text file is named, not copied.
- Two inputs never share an output name, not even one differing only in case (they merge on Windows and macOS).
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from mmpx.errors import MmpxError

_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"BM", ".bmp"), (b"GIF8", ".gif"), (b"RIFF", ".webp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))
_PFM = (b"PF\n", b"Pf\n", b"PF\r", b"Pf\r")  # Ultralytics lists .pfm; never an embedded labelme image
_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_NONBLOCK = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


class NotRegular(OSError):
    """``path`` exists but is no regular file: :attr:`what` it is (``a named pipe (FIFO)``, ...)."""

    def __init__(self, path, what: str) -> None:
        super().__init__(f"{path} is {what}, not a regular file")
        self.what = what


def image_ext(data: bytes) -> str | None:
    """The extension an image's first bytes call for; None when they are no image format we know."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    return None


def abs_root(root: str | Path) -> str:
    """``root`` absolute and normalised, as :func:`inside` compares it."""
    return os.path.abspath(root)


def inside(root: str, path: str | Path) -> bool:
    """``path`` (made absolute and normalised) is ``root`` or lies under it; ``root`` from :func:`abs_root`."""
    path = os.path.abspath(path)
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _kind(mode: int) -> str:
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def open_regular(path: str | Path) -> BinaryIO:
    """``path`` opened for reading, refused unless it is a regular file (links followed).

    Checked before opening (opening a device may itself do something) and again on the open file, which is opened
    without blocking: a FIFO put in its place meanwhile is refused, not waited on.

    Raises:
        NotRegular: a folder, FIFO, device or socket. OSError: what ``open`` raises.
    """
    _check_regular(os.stat(path), path)
    fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    try:
        _check_regular(os.fstat(fd), path)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "rb")


def read_regular(path: str | Path) -> bytes:
    """The bytes of the regular file ``path`` (refused as :func:`open_regular` refuses). Plain ``os.read``: as fast
    as ``open().read()``, which matters in the converter's loop over thousands of files."""
    _check_regular(os.stat(path), path)
    fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    try:
        st = os.fstat(fd)
        _check_regular(st, path)
        chunks, want = [], st.st_size + 1  # one read for the whole file, one more to see its end
        while chunk := os.read(fd, want):
            chunks.append(chunk)
            want = 1 << 20
        return b"".join(chunks)
    finally:
        os.close(fd)


def _check_regular(st: os.stat_result, path) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise NotRegular(path, _kind(st.st_mode))


def image_problem(path: str | Path) -> str | None:
    """Why ``path`` is no image file to copy or link, or None: a regular file that starts like an image.

    Reads the first bytes only (the image's own header); decoding is left to training, as before.

    Raises:
        FileNotFoundError, NotADirectoryError: nothing is there (the caller may look elsewhere).
    """
    try:
        with open_regular(path) as f:
            head = f.read(16)
            size = os.fstat(f.fileno()).st_size
    except (FileNotFoundError, NotADirectoryError):
        raise
    except OSError as exc:  # NotRegular included
        return str(exc) if isinstance(exc, NotRegular) else f"{path} cannot be read: {exc.strerror or exc}"
    except ValueError as exc:  # a NUL byte in the name
        return f"{path!r} cannot be read: {exc}"
    if not head:
        return f"{path} is empty (0 bytes)"
    if image_ext(head) is None and not head.startswith(_PFM):
        return (f"{path} is not an image (its {size} bytes start {head[:8]!r}; expected PNG, JPEG, BMP, GIF, WebP "
                "or TIFF)")
    return None


def check_out_not_link(out: str | Path) -> None:
    """Refuse an OUT that is a symbolic link: the dataset is renamed into place, which would replace the link (and
    writing through it would put the dataset where the link points, not where the command says)."""
    if os.path.islink(out):
        raise MmpxError(f"output folder {out} is a symbolic link (to {os.readlink(out)}): mmpx builds the dataset "
                        "beside OUT and renames it into place, which would replace the link",
                        "give the folder the link points to as OUT, or another new folder")


def plain_name(value: str, what: str) -> str:
    """``value`` as one folder name (a split); it becomes part of output paths, so it may not climb out."""
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value:
        raise MmpxError(f"{what} {value!r} is not a plain folder name (it becomes OUT/images/<name>)",
                        "use a name such as train, val or test")
    return value


def clashes(items: Iterable[tuple[object, str, str]]) -> dict[object, str]:
    """The reason of each input whose output name another input shares, ignoring case.

    ``items``: ``(key, input name, output name)``. Equal names overwrite each other; names equal once case-folded
    are one file on Windows and macOS (and on a dataset copied there). Every input of a clash gets a reason.
    """
    groups: dict[str, list[tuple[object, str, str]]] = defaultdict(list)
    for item in items:
        groups[item[2].casefold()].append(item)
    found = {}
    for group in groups.values():
        for key, name, output in group if len(group) > 1 else ():
            others = ", ".join(repr(n) for k, n, _ in group if k != key)
            found[key] = (f"{name!r} and {others} would both be written as {output!r} (names that differ only in "
                          "case are one file on Windows and macOS)")
    return found
