"""Images of an ``--append``: duplicates found by content (sha1 of the bytes), new images given names that no
existing image has, and placed without ever writing to an existing file."""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
from pathlib import Path

from mmpx.convert.labelme_images import find_image, image_candidates, unread_image
from mmpx.convert.paths import abs_root, image_ext, inside, open_regular
from mmpx.convert.summary import FileProblem


def file_sha1(path: str | Path) -> str:
    """The sha1 of a regular file's bytes (raises :class:`~mmpx.convert.paths.NotRegular`, an OSError, else)."""
    with open_regular(path) as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


class ImageIndex:
    """The dataset's images by content. Existing images are hashed only when a new image has their size (a
    stat is cheap, reading every image of a large dataset for each small append is not)."""

    def __init__(self) -> None:
        self.names: dict[str, int] = {}  # file_name -> image id
        self.folded: set[str] = set()  # the names case-folded: a new name may not differ from one only in case
        self.unreadable: list[str] = []  # existing images that could not be read: duplicates of them go unseen
        self._by_size: dict[int, list[tuple[str, str, int]]] = {}  # size -> (path, file_name, id), unhashed
        self._hashes: dict[str, tuple[str, int]] = {}  # sha1 -> (file_name, id)

    def add_existing(self, path: str, file_name: str, image_id: int) -> None:
        self.names.setdefault(file_name, image_id)
        self.folded.add(file_name.casefold())
        try:
            size = os.stat(path).st_size
        except OSError:
            self.unreadable.append(file_name)
            return
        self._by_size.setdefault(size, []).append((path, file_name, image_id))

    def find(self, digest: str, size: int) -> tuple[str, int] | None:
        """``(file_name, image id)`` of an image with these bytes, or None."""
        for path, file_name, image_id in self._by_size.pop(size, []):
            try:
                self._hashes.setdefault(file_sha1(path), (file_name, image_id))
            except OSError:
                self.unreadable.append(file_name)
        return self._hashes.get(digest)

    def add(self, digest: str | None, file_name: str, image_id: int) -> None:
        if digest is not None:
            self._hashes.setdefault(digest, (file_name, image_id))
        self.names[file_name] = image_id
        self.folded.add(file_name.casefold())


class AppendImages:
    """Decides each new image's ``file_name``, spots duplicates and puts the image in ``stage/images``.

    Call it as ``ImageHandler`` is called; then :attr:`duplicate` is ``(file_name, id)`` of the image it repeats
    (nothing was placed), else :attr:`pending` is ``(sha1, file_name)``: :meth:`commit` it once the file is
    converted, :meth:`discard` it when the file turns out bad.

    Args:
        stage: the staging folder (holding links to the existing images).
        mode: ``copy``, ``link`` or ``none``.
        index: the dataset's images.
        root: with ``none``, the folder the dataset's file names are relative to (its first source).
        src: the folder of the new files; images are read only from inside it.
    """

    def __init__(self, stage: Path, mode: str, index: ImageIndex, root: Path | None = None, *,
                 src: str | Path) -> None:
        self.images, self.mode, self.index, self.root = stage / "images", mode, index, root
        self.src, self.src_root = str(src), abs_root(src)
        self.duplicate: tuple[str, int] | None = None
        self.pending: tuple[str | None, str] | None = None
        self.warning: str | None = None  # with ``none``: the image could not be read

    def reset(self) -> None:
        self.duplicate = self.pending = self.warning = None

    def __call__(self, path: str, rel: str, image_path: str | None, image_data: str | None) -> str:
        self.reset()
        if self.mode == "none":
            return self._unplaced(path, rel, image_path, image_data)
        data = _decode(path, image_data) if image_data else None
        source = None if data is not None else find_image(path, image_path, self.src_root, self.src)
        digest = hashlib.sha1(data).hexdigest() if data is not None else file_sha1(source)
        size = len(data) if data is not None else os.stat(source).st_size
        self.duplicate = self.index.find(digest, size)
        if self.duplicate is not None:
            return self.duplicate[0]
        ext = image_ext(data) if data is not None else os.path.splitext(source)[1]
        file_name = self._free_name(os.path.splitext(rel)[0].replace(os.sep, "/"), ext)
        dest = self.images / file_name
        dest.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            with open(dest, "xb") as f:  # "x": never through a link into the existing dataset
                f.write(data)
        elif self.mode == "copy":
            with open(source, "rb") as f, open(dest, "xb") as g:
                shutil.copyfileobj(f, g)
        else:
            try:
                os.link(source, dest)
            except OSError:  # another file system, or links not allowed: a symlink
                os.symlink(os.path.abspath(source), dest)
        self.pending = (digest, file_name)
        return file_name

    def _free_name(self, stem: str, ext: str) -> str:
        """``stem + ext``, else ``stem-2 + ext``, ...: a name no existing image has, on disk or in the records."""
        name, n = stem + ext, 1
        while name.casefold() in self.index.folded or os.path.lexists(self.images / name):
            n += 1
            name = f"{stem}-{n}{ext}"
        return name

    def _unplaced(self, path: str, rel: str, image_path: str | None, image_data: str | None) -> str:
        """``--images none``: the image's path relative to the dataset's first source; hashed when readable."""
        if image_path:  # inside SRC, or inside the first source the dataset's names are relative to
            roots = (self.src_root, abs_root(self.root))
            found = next((c for c in image_candidates(path, image_path)
                          if os.path.isfile(c) and any(inside(root, c) for root in roots)),
                         None) or unread_image(path, image_path, roots, self.src)
        else:  # embedded image only, never written out: named after the JSON file, as the converter does
            found = os.path.splitext(path)[0] + ".png"
        file_name = Path(os.path.relpath(os.path.abspath(found), os.path.abspath(self.root))).as_posix()
        if file_name in self.index.names:  # the very file the dataset already holds
            self.duplicate = (file_name, self.index.names[file_name])
            return file_name
        data = None
        if image_data:
            try:
                data = base64.b64decode(image_data, validate=True)
            except (binascii.Error, ValueError, TypeError):
                data = None
        try:
            digest = hashlib.sha1(data).hexdigest() if data is not None else file_sha1(found)
            size = len(data) if data is not None else os.stat(found).st_size
        except OSError:
            self.warning = f"image {found} could not be read, so it was not checked for duplicates"
            self.pending = (None, file_name)
            return file_name
        self.duplicate = self.index.find(digest, size)
        if self.duplicate is None:
            self.pending = (digest, file_name)
        return file_name

    def commit(self, image_id: int) -> None:
        digest, file_name = self.pending
        self.index.add(digest, file_name, image_id)
        self.pending = None

    def discard(self) -> None:
        """The file was bad after all: remove its image (it is new: only this run placed it)."""
        if self.pending is not None and self.mode != "none":
            os.remove(self.images / self.pending[1])
        self.pending = None


def _decode(path: str, image_data: str) -> bytes:
    try:
        data = base64.b64decode(image_data, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise FileProblem(path, "imageData is not valid base64",
                          "set imageData to null and put the image beside the JSON file") from None
    if image_ext(data) is None:
        raise FileProblem(path, f"imageData is not an image (its {len(data)} bytes start {data[:8]!r}; expected "
                          "PNG, JPEG, BMP, GIF, WebP or TIFF)",
                          "set imageData to null and put the image beside the JSON file")
    return data
