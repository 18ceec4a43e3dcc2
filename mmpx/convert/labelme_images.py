"""Finding labelme files and their images: ``imagePath`` as written by labelme on any OS, or ``imageData``."""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path

from mmpx.convert.output import STAGING_MARK, ImagePlacer
from mmpx.convert.summary import FileProblem

_WINDOWS_ABS = re.compile(r"^(?:[A-Za-z]:/|//)")
_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"BM", ".bmp"), (b"GIF8", ".gif"), (b"RIFF", ".webp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


def find_json_files(src: str | Path, out: str | Path | None = None) -> list[str]:
    """Paths of ``*.json`` under ``src`` (recursive), sorted; skips ``out`` and unfinished outputs of ours."""
    skip = os.path.realpath(out) if out is not None else None
    found, stack = [], [str(src)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir():
                    if STAGING_MARK not in entry.name and ".mmpx-old-" not in entry.name \
                            and os.path.realpath(entry.path) != skip:
                        stack.append(entry.path)
                elif entry.name.lower().endswith(".json") and not _ranking(entry):
                    found.append(entry.path)
    return sorted(found)


def _ranking(entry: os.DirEntry) -> bool:
    """``suggest.json``, the ranking ``mmpx suggest`` writes beside its pre-labels: not a labelme file."""
    if entry.name != "suggest.json":
        return False
    try:
        with open(entry.path, "rb") as f:
            return b'"schema": "mmpx-suggest/' in f.read(64)
    except OSError:  # unreadable: the converter reports it as it reports any file
        return False


def image_ext(data: bytes) -> str | None:
    """The extension an embedded image's bytes call for; None when they are no image format we know."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    return None


def image_candidates(json_path: str, image_path: str) -> list[str]:
    """Where the image may be: imagePath as written (relative to the JSON), then its name beside the JSON.

    Windows separators are accepted anywhere; a Windows absolute path (``C:\\...``) can only be found by name.
    """
    norm = image_path.replace("\\", "/")
    folder = os.path.dirname(json_path)
    base = os.path.join(folder, norm.rsplit("/", 1)[-1])
    if _WINDOWS_ABS.match(norm):
        return [base]
    first = os.path.normpath(os.path.join(folder, norm))  # an absolute imagePath stays absolute
    return [first] if first == base else [first, base]


def _posix(rel: str) -> str:
    return rel if os.sep == "/" else rel.replace(os.sep, "/")


class ImageHandler:
    """Decides each image's COCO ``file_name`` and puts the image in ``OUT/images`` (or not, for ``none``).

    Images are named after their JSON file (``sub/a.json`` -> ``images/sub/a.jpg``): unique by construction,
    whatever the image files are called. With ``none`` nothing is checked or written and ``file_name`` is the
    image's path relative to SRC (no file-system call per file).
    """

    def __init__(self, src: str | Path, stage: Path, mode: str) -> None:
        self.src, self.mode = str(src), mode
        self.placer = ImagePlacer(stage / "images", mode)

    def __call__(self, path: str, rel: str, image_path: str | None, image_data: str | None) -> str:
        """The ``file_name`` of the image of the labelme file ``path`` (``rel``: relative to SRC).

        Raises:
            FileProblem: bad ``imageData``, or no image file where ``imagePath`` points.
        """
        if self.mode == "none":
            return self._relative_to_src(path, rel, image_path)
        rel_stem = os.path.splitext(rel)[0]
        if image_data:
            try:
                data = base64.b64decode(image_data, validate=True)
            except (binascii.Error, ValueError, TypeError):
                raise FileProblem(path, "imageData is not valid base64",
                                  "set imageData to null and put the image beside the JSON file") from None
            ext = image_ext(data)
            if ext is None:  # written out under an image name, it would fail only later, in training
                start = data[:8]
                raise FileProblem(path, f"imageData is not an image (its {len(data)} bytes start {start!r}; "
                                  "expected PNG, JPEG, BMP, GIF, WebP or TIFF)",
                                  "set imageData to null and put the image beside the JSON file")
            return _posix(self.placer.write_bytes(rel_stem + ext, data))
        candidates = image_candidates(path, image_path)
        for candidate in candidates:
            if os.path.isfile(candidate):
                return _posix(self.placer.place(candidate, rel_stem + os.path.splitext(candidate)[1]))
        raise FileProblem(path, f"image file not found (imagePath {image_path!r}; looked for "
                          f"{' and '.join(candidates)})",
                          "put the image beside the JSON file, fix imagePath, or pass --images none")

    def _relative_to_src(self, path: str, rel: str, image_path: str | None) -> str:
        if not image_path:  # embedded image only, not written out: name it after the JSON file
            return _posix(os.path.splitext(rel)[0] + ".png")
        norm = image_path.replace("\\", "/")
        if "/" not in norm:  # the usual case, beside the JSON file: no path arithmetic
            return _posix(os.path.join(os.path.dirname(rel), norm))
        return Path(os.path.relpath(image_candidates(path, image_path)[0], self.src)).as_posix()
