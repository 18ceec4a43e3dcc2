"""Atomic output folders, the train/val split and image placement, shared by the converters.

Everything is built in a hidden sibling of ``OUT`` and renamed into place at the end, so a failed or
interrupted run never leaves a half-written dataset.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mmpx.atomic.lock import hold
from mmpx.atomic.stale import clean_stale, move_in, new_tmp_dir, recover, release
from mmpx.convert.paths import abs_root, check_out_not_link, inside, open_regular
from mmpx.errors import MmpxError

STAGING_MARK = ".mmpx-tmp-"
IMAGE_MODES = ("copy", "link", "none")
PARTS = ".parts"  # spool files inside the staging folder, removed before it is placed


def check_out(out: Path, overwrite: bool, inputs: Sequence[str | Path] = ()) -> None:
    """Refuse an ``out`` that would put user data at risk; an empty or missing folder is simply used.

    - ``out`` is, contains or lies inside one of ``inputs`` (the source folder, annotation and metainfo files):
      replacing it would delete what the command reads.
    - ``out`` is a symbolic link: the dataset is renamed into place, which would replace the link.
    - ``out`` exists and is not empty: refused without ``overwrite``; with it, replaced only when an mmpx
      conversion wrote it (its ``report.json``), so ``--overwrite`` never deletes files mmpx did not write.
    """
    _check_apart(out, inputs)
    check_out_not_link(out)
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise MmpxError(f"output path {out} exists and is not a folder", "give a new folder path")
    if not any(out.iterdir()):
        return
    if not overwrite:
        raise MmpxError(f"output folder {out} already exists and is not empty",
                        "pass --overwrite to replace it (atomically, when the new dataset is complete), "
                        "or choose another folder")
    if not written_by_mmpx(out):
        raise MmpxError(f"--overwrite: {out} was not written by an mmpx conversion (no report.json of one), so "
                        "mmpx will not replace it: --overwrite deletes only what mmpx wrote",
                        "choose a new folder, or move that one away yourself")


def _check_apart(out: Path, inputs: Sequence[str | Path]) -> None:
    target = Path(os.path.abspath(out)).resolve()
    for item in inputs:
        src = Path(os.path.abspath(item)).resolve()
        if target == src:
            relation = "is"
        elif target in src.parents:
            relation = "contains"
        elif src in target.parents:
            relation = "lies inside"
        else:
            continue
        raise MmpxError(f"output folder {out} {relation} the input {item}: writing it would replace what the "
                        "command reads", "choose an output folder outside the inputs, e.g. a sibling folder")


def written_by_mmpx(folder: Path) -> bool:
    """``folder`` holds the ``report.json`` an mmpx conversion writes (``converter`` and ``out`` keys)."""
    import json

    try:
        report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    # any converter's, a plugin's too: they all write their report with these two keys through staged_output
    return isinstance(report, dict) and isinstance(report.get("converter"), str) and "out" in report


@contextmanager
def staged_output(out: Path, overwrite: bool = False, inputs: Sequence[str | Path] = ()) -> Iterator[Path]:
    """Yield a fresh hidden sibling folder of ``out``: on success it replaces ``out``; on any error it goes.

    The whole run holds ``out``'s lock (:func:`mmpx.atomic.lock.hold`): a second run into the same folder is
    refused at once. Under it, a dataset that a crashed run moved aside is put back first, and temporaries that
    no running process holds are removed. ``out`` is checked (:func:`check_out`, with the command's ``inputs``)
    before and again after the work. With ``overwrite`` an existing ``out`` written by mmpx is moved aside, the
    new folder renamed in, then the old one deleted; if the second rename fails the old folder is put back.
    """
    out = Path(out)
    check_out(out, overwrite, inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    with hold(out, "output folder"), recovered(out):
        clean_stale(out.parent)  # what ended runs left beside OUT (never what a running one holds)
        check_out(out, overwrite, inputs)  # again: the recovery may have put a dataset back
        stage = new_tmp_dir(out.parent, f".{out.name}{STAGING_MARK}p{os.getpid()}-")
        try:
            yield stage
            shutil.rmtree(stage / PARTS, ignore_errors=True)
            check_out(out, overwrite, inputs)
            move_in(stage, out)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        finally:
            release(stage)


@contextmanager
def recovered(out: Path) -> Iterator[None]:
    """Put back a dataset that a crashed replacement moved aside (said on stderr) before anything reads ``out``;
    call it holding ``out``'s lock."""
    for note in recover(out):
        warn(note)
    yield


def warn(message: str) -> None:
    """One warning line on stderr (core code has no console of its own)."""
    import sys

    print(f"warning: {message}", file=sys.stderr, flush=True)


def val_indices(n: int, val_ratio: float, seed: int) -> set[int]:
    """Indices (of ``n`` sorted inputs) that go to the val split: a seeded shuffle, so stable across runs.

    Raises:
        MmpxError: ``val_ratio`` outside [0, 1).
    """
    if not 0 <= val_ratio < 1:
        raise MmpxError(f"--val-ratio must be at least 0 and below 1, got {val_ratio}",
                        "e.g. --val-ratio 0.2")
    count = round(n * val_ratio)
    if val_ratio > 0 and n > 1:
        count = min(max(count, 1), n - 1)  # a requested split is never empty, train never either
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return set(order[:count])


class ImagePlacer:
    """Copies, links or writes images into ``OUT/images``; remembers the folders it made (mkdir is slow)."""

    def __init__(self, root: Path, mode: str) -> None:
        if mode not in IMAGE_MODES:
            raise MmpxError(f"--images must be one of {', '.join(IMAGE_MODES)}, got {mode!r}")
        self.root, self.mode = root, mode
        self._made: set[str] = set()

    def _dest(self, rel: str) -> str:
        dest = os.path.join(self.root, rel)
        if not inside(abs_root(self.root), dest):  # names are checked upstream; this is the last line of defence
            raise MmpxError(f"image name {rel!r} would be written outside {self.root}", "report it: this is a bug")
        parent = os.path.dirname(dest)
        if parent not in self._made:
            os.makedirs(parent, exist_ok=True)
            self._made.add(parent)
        return dest

    def write_bytes(self, rel: str, data: bytes) -> str:
        """Write ``data`` to ``images/rel`` (a new file: a name clash that slipped through fails, never
        overwrites); returns ``rel``."""
        with open(self._dest(rel), "xb") as f:
            f.write(data)
        return rel

    def place(self, src: str, rel: str) -> str:
        """Copy or link ``src`` (a regular file) to ``images/rel``, which must not exist yet; returns ``rel``."""
        dest = self._dest(rel)
        if self.mode == "copy":
            with open_regular(src) as source, open(dest, "xb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
            return rel
        try:
            os.link(src, dest)
        except OSError:  # another filesystem, or links not allowed: fall back to a symlink
            os.symlink(os.path.abspath(src), dest)
        return rel


def coco_category(cat_id: int, name: str, keypoints: Sequence[str],
                  skeleton: Sequence[tuple[str, str]]) -> dict:
    """A COCO keypoint category; ``skeleton`` by names becomes COCO's 1-based index pairs."""
    index = {n: i + 1 for i, n in enumerate(keypoints)}
    return dict(id=cat_id, name=name, supercategory=name, keypoints=list(keypoints),
                skeleton=[[index[a], index[b]] for a, b in skeleton])


def skeleton_and_swaps(info: dict) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Skeleton links (by names) and swap pairs from a loaded metainfo dict."""
    skeleton = [tuple(link["link"]) for link in sorted(info.get("skeleton_info", {}).values(),
                                                       key=lambda s: s.get("id", 0))]
    swaps = {kp["name"]: kp["swap"] for kp in info.get("keypoint_info", {}).values() if kp.get("swap")}
    return skeleton, swaps
