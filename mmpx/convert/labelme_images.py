"""Finding labelme files and their images: ``imagePath`` as written by labelme on any OS, or ``imageData``."""

from __future__ import annotations

import base64
import binascii
import os
import re
from pathlib import Path

from mmpx.convert.output import STAGING_MARK, ImagePlacer
from mmpx.convert.paths import abs_root, image_ext, image_problem, inside
from mmpx.convert.summary import FileProblem

_WINDOWS_ABS = re.compile(r"^(?:[A-Za-z]:/|//)")
OUTSIDE_HINT = "put the image inside the source folder (beside the JSON file is simplest) and fix imagePath"


def find_json_files(src: str | Path, out: str | Path | None = None) -> list[str]:
    """Paths of ``*.json`` under ``src`` (recursive), sorted, each file once (see :func:`scan_json_files`)."""
    return scan_json_files(src, out)[0]


def scan_json_files(src: str | Path, out: str | Path | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Paths of ``*.json`` under ``src`` (recursive), sorted; and ``(path, note)`` for what was left out.

    Skips ``out`` and unfinished outputs of ours. Each folder and each file is taken once, by ``(st_dev, st_ino)``
    after following links: a symlinked subfolder would put the same file in train and val, a link back up would
    never end. Real folders are searched before linked ones, so a file reached both ways keeps its real path.
    A folder that cannot be listed is a note, not an error; so is every repeat.
    """
    skip = os.path.realpath(out) if out is not None else None
    notes: list[tuple[str, str]] = []
    folders: dict[tuple[int, int], str] = {}
    found: list[tuple[str, bool]] = []  # (path, reached through a link)
    real, linked = [(str(src), False)], []
    while real or linked:
        folder, via_link = real.pop() if real else linked.pop()
        try:
            st = os.stat(folder)
            key = (st.st_dev, st.st_ino)
            if key in folders:
                notes.append((folder, f"the same folder as {folders[key]} (a symbolic link to it): searched once"))
                continue
            folders[key] = folder
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            if folder == str(src):
                raise
            notes.append((folder, f"folder not searched: {exc.strerror or exc}"))
            continue
        for entry in entries:
            if _is_dir(entry):
                if STAGING_MARK not in entry.name and ".mmpx-old-" not in entry.name \
                        and os.path.realpath(entry.path) != skip:
                    (linked if entry.is_symlink() else real).append((entry.path, via_link or entry.is_symlink()))
            elif entry.name.lower().endswith(".json") and not _ranking(entry):
                found.append((entry.path, via_link or entry.is_symlink()))
    return _once(found, notes)


def _is_dir(entry: os.DirEntry) -> bool:
    """``entry`` is a folder or a link to one; a link loop (ELOOP, which ``is_dir`` raises) is none."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _once(found: list[tuple[str, bool]], notes: list[tuple[str, str]]) -> tuple[list[str], list[tuple[str, str]]]:
    """Each file once: of paths to one file, a path with no link in it wins, then the first in sorted order."""
    by_file: dict[object, list[tuple[bool, str]]] = {}
    for path, via_link in found:
        try:
            st = os.stat(path)
            key: object = (st.st_dev, st.st_ino)
        except OSError:  # a dangling link or a loop: kept, reading it reports the problem
            key = path
        by_file.setdefault(key, []).append((via_link, path))
    files = []
    for paths in by_file.values():
        paths.sort()
        files.append(paths[0][1])
        for _, other in paths[1:]:
            notes.append((other, f"the same file as {paths[0][1]} (a link to it): converted once"))
    return sorted(files), notes


def _ranking(entry: os.DirEntry) -> bool:
    """``suggest.json``, the ranking ``mmpx suggest`` writes beside its pre-labels: not a labelme file."""
    if entry.name != "suggest.json" or not entry.is_file():  # is_file: a FIFO would block the read
        return False
    try:
        with open(entry.path, "rb") as f:
            return b'"schema": "mmpx-suggest/' in f.read(64)
    except OSError:  # unreadable: the converter reports it as it reports any file
        return False


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


def find_image(path: str, image_path: str, root: str, src: str) -> str:
    """The image file of the labelme file ``path``: the first of :func:`image_candidates` inside SRC that exists,
    checked to be a regular file that starts like an image.

    Args:
        root: SRC from :func:`~mmpx.convert.paths.abs_root`; src: SRC as given, for messages.

    Raises:
        FileProblem: the image is outside SRC, missing, not a regular file, empty or no image.
    """
    candidates = image_candidates(path, image_path)
    usable = [c for c in candidates if inside(root, c)]
    for candidate in usable:
        try:
            problem = image_problem(candidate)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if problem is not None:
            raise FileProblem(path, f"image {problem}", "replace the image with a readable one, or fix imagePath")
        return candidate
    if len(usable) < len(candidates):
        beside = f" (nor is it beside the JSON file: {usable[0]} does not exist)" if usable else ""
        raise FileProblem(path, f"imagePath {image_path!r} lies outside the source folder {src}{beside}; "
                          "only images inside it are read", OUTSIDE_HINT)
    raise FileProblem(path, f"image file not found (imagePath {image_path!r}; looked for "
                      f"{' and '.join(candidates)})",
                      "put the image beside the JSON file, fix imagePath, or pass --images none")


def unread_image(path: str, image_path: str, roots: tuple[str, ...], src: str) -> str:
    """With ``--images none``: where the image is, without reading it. imagePath as written when it stays inside
    one of ``roots`` (SRC; with ``--append``, also the dataset's first source), else the image beside the JSON
    file when there is one.

    Raises:
        FileProblem: imagePath leads outside the roots and nothing is beside the JSON file.
    """
    candidates = image_candidates(path, image_path)
    if any(inside(root, candidates[0]) for root in roots):
        return candidates[0]
    for candidate in candidates[1:]:
        if os.path.lexists(candidate) and any(inside(root, candidate) for root in roots):
            return candidate
    raise FileProblem(path, f"imagePath {image_path!r} lies outside the source folder {src}; only images inside "
                      "it are used", OUTSIDE_HINT)


def _posix(rel: str) -> str:
    return rel if os.sep == "/" else rel.replace(os.sep, "/")


class ImageHandler:
    """Decides each image's COCO ``file_name`` and puts the image in ``OUT/images`` (or not, for ``none``).

    Images are named after their JSON file (``sub/a.json`` -> ``images/sub/a.jpg``): unique by construction,
    whatever the image files are called. An image is read only from inside SRC, and only when it is a regular file
    that starts like an image. With ``none`` nothing is read or written and ``file_name`` is the image's path
    relative to SRC (no file-system call per file; an imagePath leading outside SRC is still refused).
    """

    def __init__(self, src: str | Path, stage: Path, mode: str) -> None:
        self.src, self.mode, self.root = str(src), mode, abs_root(src)
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
        source = find_image(path, image_path, self.root, self.src)
        return _posix(self.placer.place(source, rel_stem + os.path.splitext(source)[1]))

    def _relative_to_src(self, path: str, rel: str, image_path: str | None) -> str:
        if not image_path:  # embedded image only, not written out: name it after the JSON file
            return _posix(os.path.splitext(rel)[0] + ".png")
        norm = image_path.replace("\\", "/")
        if "/" not in norm and norm not in (".", ".."):  # the usual case, beside the JSON file: no path arithmetic
            return _posix(os.path.join(os.path.dirname(rel), norm))
        return Path(os.path.relpath(unread_image(path, image_path, (self.root,), self.src), self.src)).as_posix()
