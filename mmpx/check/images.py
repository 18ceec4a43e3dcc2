"""Find and verify the image files an annotation file names (PIL, imported only when images are checked)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mmpx.errors import MmpxError

_EXIF_ORIENTATION = 0x0112
_SAMPLE = 50  # file names tried when looking for a prefix to strip; the mapping must hold for most of them


@dataclass(frozen=True)
class ImageStatus:
    """What opening one image found: its real size, or why it could not be read."""

    size: tuple[int, int] | None  # (width, height) as stored, before any EXIF rotation
    problem: str | None = None
    rotated: bool = False  # EXIF says the image is shown rotated by 90 degrees (width and height swap)


def _parts(name: str) -> tuple[str, ...]:
    return PurePosixPath(name.replace("\\", "/")).parts


def find_strip(root: Path, names: Sequence[str]) -> int:
    """How many leading path components to drop from ``names`` so that they exist under ``root``.

    Tries a sample of names; 0 when the names resolve as they are (or when nothing resolves at all, so that
    missing images are reported under their real names).
    """
    votes: Counter[int] = Counter()
    for name in names[:_SAMPLE]:
        parts = _parts(name)
        for strip in range(len(parts)):
            if root.joinpath(*parts[strip:]).is_file():
                votes[strip] += 1
                break
    return votes.most_common(1)[0][0] if votes else 0


def resolve(root: Path, name: str, strip: int) -> Path:
    parts = _parts(name)
    return root.joinpath(*parts[min(strip, len(parts) - 1):]) if parts else root


def verify_image(path: Path) -> ImageStatus:
    """Open ``path`` and decode it fully: a zero-byte, truncated or non-image file is reported as corrupt."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib and mmcv
        raise MmpxError("checking images needs Pillow",
                        "pip install pillow, or run without --images") from None
    if not path.is_file():
        return ImageStatus(None, "missing")
    if path.stat().st_size == 0:
        return ImageStatus(None, "corrupt: empty file (0 bytes)")
    try:
        with Image.open(path) as im:
            size = im.size
            rotated = im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8)
            im.load()  # verify() alone misses truncated JPEGs; decoding does not
    except UnidentifiedImageError:
        return ImageStatus(None, "corrupt: not an image PIL can read")
    except (OSError, SyntaxError, ValueError) as exc:
        return ImageStatus(None, f"corrupt: {exc}")
    return ImageStatus(size, None, rotated)


def verify_images(paths: Sequence[Path], on_done: Callable[[], None] | None = None) -> list[ImageStatus]:
    """:func:`verify_image` for each path, in threads (decoding releases the GIL), in order."""
    workers = min(8, 2 * (os.cpu_count() or 1), max(1, len(paths)))

    def one(path: Path) -> ImageStatus:
        status = verify_image(path)
        if on_done is not None:
            on_done()
        return status

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))
