"""What ``mmpx infer`` reads: image files, video files and folders of them, each with the name its output gets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import MmpxError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class Source:
    """One input file. ``name`` is its path relative to the folder given (or its file name for a file given
    directly), POSIX style: the name of its drawn output under ``--out-dir`` and its ``file_name`` in the JSON."""

    path: Path
    name: str
    kind: str  # 'image' or 'video'


def kind_of(path: Path) -> str | None:
    ext = path.suffix.lower()
    return "image" if ext in IMAGE_EXTS else "video" if ext in VIDEO_EXTS else None


def collect(inputs: list[Path]) -> tuple[list[Source], int]:
    """Files to process, in order: each argument in turn; a folder's images and videos recursively, sorted by
    relative path. Returns the sources and the number of other files skipped inside folders.

    Raises:
        MmpxError: a path does not exist, a file given directly has an unknown extension, a folder holds no
            image or video, or two inputs would write the same output name.
    """
    if not inputs:
        raise MmpxError("no input given", "pass image files, video files or folders: mmpx infer photos/ clip.mp4")
    sources: list[Source] = []
    ignored = 0
    for arg in inputs:
        path = Path(arg)
        if path.is_dir():
            found = []
            for f in sorted(path.rglob("*"), key=lambda p: p.relative_to(path).as_posix()):
                if not f.is_file() or any(part.startswith(".") for part in f.relative_to(path).parts):
                    continue  # hidden files and folders (.git, .DS_Store) are never inputs
                kind = kind_of(f)
                if kind is None:
                    ignored += 1
                    continue
                found.append(Source(f, f.relative_to(path).as_posix(), kind))
            if not found:
                raise MmpxError(
                    f"folder {path} holds no image or video file",
                    f"images: {', '.join(IMAGE_EXTS)}; videos: {', '.join(VIDEO_EXTS)}",
                )
            sources += found
        elif path.is_file():
            kind = kind_of(path)
            if kind is None:
                raise MmpxError(
                    f"{path}: unknown file type {path.suffix or '(no extension)'!r}",
                    f"give images ({', '.join(IMAGE_EXTS)}) or videos ({', '.join(VIDEO_EXTS)}), or a folder",
                )
            sources.append(Source(path, path.name, kind))
        else:
            raise MmpxError(f"input {path} does not exist", "check the path")
    seen: dict[str, Path] = {}
    unique = []
    for src in sources:
        key = output_name(src)
        if key in seen:
            if seen[key].resolve() == src.path.resolve():
                continue  # the same file named twice is processed once
            raise MmpxError(
                f"inputs {seen[key]} and {src.path} would both be written as {key}",
                "give their common parent folder instead, so that outputs keep the relative paths",
            )
        seen[key] = src.path
        unique.append(src)
    return unique, ignored


def output_name(src: Source) -> str:
    """The drawn output's name: the same relative name; videos are always written as .mp4 (mp4v)."""
    return str(Path(src.name).with_suffix(".mp4").as_posix()) if src.kind == "video" else src.name
