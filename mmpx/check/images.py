"""Find and verify the image files an annotation file names (PIL, imported only when images are checked), and the
pixel limit every image reader of mmpx applies before it decodes anything.

A 30,000 x 30,000 PNG is a few MB on disk and 2.7 GB decoded (5.4 GB at its peak in ``mmpx infer``): an image is
refused by the size its header declares (:func:`header_size`: PNG's IHDR, JPEG's SOF, PIL's lazy ``Image.open``
for other formats, which reads only the header), never by decoding it first.
"""

from __future__ import annotations

import os
import struct
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mmpx.errors import MmpxError

_EXIF_ORIENTATION = 0x0112
_SAMPLE = 50  # file names tried when looking for a prefix to strip; the mapping must hold for most of them

PIXELS_ENV = "MMPX_MAX_IMAGE_PIXELS"
# Pillow's own decompression-bomb limit (1024 * 1024 * 1024 // 4 // 3): about 13,400 x 13,400, 0.54 GB as BGR
DEFAULT_MAX_PIXELS = 178_956_970
_PNG = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (C0-CF) hold the size; C4, C8 and CC are other segments with numbers in that range
_SOF = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_NO_LENGTH = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn: markers without a length field


def max_image_pixels() -> int:
    """The most pixels (width x height) an image may have: ``MMPX_MAX_IMAGE_PIXELS``, else
    :data:`DEFAULT_MAX_PIXELS`; 0 (the variable set to 0) means no limit.

    Raises:
        MmpxError: the variable is set to something that is not a whole number >= 0.
    """
    text = os.environ.get(PIXELS_ENV, "").strip().replace("_", "").replace(",", "")
    if not text:
        return DEFAULT_MAX_PIXELS
    if not text.isdigit():
        raise MmpxError(f"{PIXELS_ENV}={os.environ[PIXELS_ENV]!r} is not a whole number of pixels",
                        f"set it to e.g. {DEFAULT_MAX_PIXELS} (the default), or 0 for no limit")
    return int(text)


def header_size(path: str | Path) -> tuple[int, int] | None:
    """``(width, height)`` as the image file's header declares it, without decoding any pixel; None when the
    header says no size (not an image, a damaged header, a format PIL does not know).

    Raises:
        OSError: the file cannot be opened or read.
    """
    with open(path, "rb") as f:
        head = f.read(32)
        if head.startswith(_PNG):
            return _png_size(head)
        if head.startswith(b"\xff\xd8"):
            f.seek(2)
            return _jpeg_size(f)
    return _pil_size(path)


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _to_marker(f) -> bool:
    """Move just past the next 0xFF byte (libjpeg skips stray bytes between segments too); False at the end."""
    while True:
        block = f.read(1 << 16)
        if not block:
            return False
        at = block.find(b"\xff")
        if at >= 0:
            f.seek(at + 1 - len(block), os.SEEK_CUR)
            return True


def _jpeg_size(f) -> tuple[int, int] | None:
    """Walk the JPEG's segments (skipping each by its length, EXIF thumbnails included) to the first SOF."""
    while True:
        if not _to_marker(f):
            return None
        marker = f.read(1)
        while marker == b"\xff":  # fill bytes
            marker = f.read(1)
        if not marker:
            return None
        code = marker[0]
        if code in _NO_LENGTH or code == 0xD8:
            continue
        if code in (0xD9, 0xDA):  # end of image, or scan data before any frame header
            return None
        length = f.read(2)
        if len(length) < 2:
            return None
        size = struct.unpack(">H", length)[0]
        if size < 2:
            return None
        if code in _SOF:
            frame = f.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return (width, height) if height else None  # height 0: given later by a DNL marker (unsupported)
        f.seek(size - 2, os.SEEK_CUR)


def _pil_size(path: str | Path) -> tuple[int, int] | None:
    """Other formats (BMP, TIFF, WebP, ...): PIL's ``Image.open`` reads the header only; None without Pillow."""
    try:
        from PIL import Image
    except ImportError:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the limit here replaces Pillow's
            with Image.open(path) as im:
                return im.size
    except Image.DecompressionBombError as exc:  # over twice Pillow's limit: it names the size in its message
        return _size_in(str(exc))
    except Exception:  # PIL raises many types for files it cannot identify
        return None


def _size_in(message: str) -> tuple[int, int] | None:
    """Pillow's ``Image size (N pixels) exceeds limit ...``: N as (N, 1), enough to refuse the file."""
    import re

    found = re.search(r"\((\d+) pixels\)", message)
    return (int(found.group(1)), 1) if found else None


def too_large(path: str | Path, limit: int | None = None) -> str | None:
    """Why ``path`` is refused before decoding (its header declares more than ``limit`` pixels, or a zero width
    or height), or None when it may be decoded (or its header says no size: decoding will say why).
    ``limit``: None reads :func:`max_image_pixels`; 0 is no limit. OSError: the file cannot be read."""
    size = header_size(path)
    return None if size is None else size_problem(size, limit)


def size_problem(size: tuple[int, int], limit: int | None = None) -> str | None:
    """Why an image of ``size`` (width, height) is not decoded, or None; ``limit`` as in :func:`too_large`."""
    limit = max_image_pixels() if limit is None else limit
    w, h = size
    if w <= 0 or h <= 0:
        return f"its header declares {w} x {h} pixels: no image has a zero side"
    if limit and w * h > limit:
        shown = f"{w} x {h} = {w * h:,} pixels" if h > 1 else f"{w:,} pixels"
        return (f"too large: {shown}, above the limit of {limit:,} ({PIXELS_ENV}); not decoded "
                f"(it would take {_gib(w * h * 3)} of memory)")
    return None


def _gib(nbytes: int) -> str:
    return f"{nbytes / 2**30:.1f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


@dataclass(frozen=True)
class ImageStatus:
    """What opening one image found: its real size, or why it could not be read."""

    size: tuple[int, int] | None  # (width, height) as stored, before any EXIF rotation
    problem: str | None = None
    rotated: bool = False  # EXIF says the image is shown rotated by 90 degrees (width and height swap)
    code: str = "image-corrupt"  # the problem's code in ``mmpx check data`` (``image-too-large``: not decoded)


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


def verify_image(path: Path, limit: int | None = None) -> ImageStatus:
    """Open ``path`` and decode it fully: a zero-byte, truncated or non-image file is reported as corrupt, one whose
    header declares more than ``limit`` pixels (as :func:`too_large`) as too large, undecoded."""
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
        why = too_large(path, limit)
    except OSError as exc:  # as PIL's open below would report it
        return ImageStatus(None, f"corrupt: {exc}")
    if why is not None:
        return ImageStatus(None, why, code="image-too-large")
    try:
        with Image.open(path) as im:
            size = im.size
            rotated = im.getexif().get(_EXIF_ORIENTATION) in (5, 6, 7, 8)
            im.load()  # verify() alone misses truncated JPEGs; decoding does not
    except UnidentifiedImageError:
        return ImageStatus(None, "corrupt: not an image PIL can read")
    except Image.DecompressionBombError as exc:  # MMPX_MAX_IMAGE_PIXELS raised above twice Pillow's own limit
        return ImageStatus(None, f"too large for Pillow: {exc}", code="image-too-large")
    except MemoryError:
        return ImageStatus(None, f"not enough memory to decode it ({PIXELS_ENV} is above what this machine "
                           "holds)", code="image-too-large")
    except (OSError, SyntaxError, ValueError) as exc:
        return ImageStatus(None, f"corrupt: {exc}")
    return ImageStatus(size, None, rotated)


def verify_images(paths: Sequence[Path], on_done: Callable[[], None] | None = None) -> list[ImageStatus]:
    """:func:`verify_image` for each path, in threads (decoding releases the GIL), in order."""
    workers = min(8, 2 * (os.cpu_count() or 1), max(1, len(paths)))
    limit = max_image_pixels()  # read once: a bad MMPX_MAX_IMAGE_PIXELS stops here, not in a thread

    def one(path: Path) -> ImageStatus:
        status = verify_image(path, limit)
        if on_done is not None:
            on_done()
        return status

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, paths))


def decode_image(path: Path, limit: int | None = None):
    """``(BGR image, None)``, or ``(None, why)`` for a file that cannot be read, is not an image, or whose header
    declares more pixels than ``limit`` (None: ``MMPX_MAX_IMAGE_PIXELS`` or its default; 0: no limit).

    Nothing is decoded before its size is known from its header: OpenCV decodes by content, whatever the name, so
    a file whose header says no size (a format neither the header readers nor Pillow know, such as OpenEXR) is
    refused too rather than decoded unbounded."""
    import cv2
    import numpy as np

    try:
        if path.stat().st_size == 0:
            return None, "not a readable image: an empty file (0 bytes)"
        size = header_size(path)
        if size is None:
            return None, ("not a readable image (truncated, not an image, or a format whose size Pillow cannot read "
                          "from its header)")
        why = size_problem(size, limit)
        if why is not None:
            return None, why
        data = np.fromfile(path, dtype=np.uint8)
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except OSError as exc:
        return None, f"cannot be read: {exc.strerror or exc}"
    except MemoryError:
        return None, "not enough memory to decode it"
    except cv2.error as exc:  # OpenCV's own limits (CV_IO_MAX_IMAGE_PIXELS) and codec failures
        return None, f"not a readable image ({(str(exc).strip().splitlines() or ['cv2.error'])[0][:160]})"
    if image is None:
        return None, "not a readable image (empty, truncated or not an image)"
    return image, None
