"""``mmpx test --dump/--show-dir``: both outputs are written beside their place and moved into it once the test
finished, so a failed run leaves neither.

The staged names carry :mod:`mmpx.atomic`'s temporary mark (``.mmpx-tmp-preds.partial.pkl``,
``.mmpx-tmp-vis.partial/``): the main process holds their lock while the run writes, and what a killed run left
goes at the next cleanup of that folder (:func:`mmpx.atomic.clean_stale`). They are fixed, not random, because
every process of a distributed test draws its share of the pictures into the same folder and finds it by name.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from mmpx.atomic import TMP_PREFIX, lock_tmp, release


def staged(path: Path) -> Path:
    """Where the output ``path`` is written before it is moved into place (same folder, so the move is atomic)."""
    return path.with_name(f"{TMP_PREFIX}{path.stem}.partial{path.suffix}")


def discard(dump: Path | None, show_dir: Path | None) -> None:
    """Remove the staged outputs: a failed run's, or those a killed run left before a new one starts."""
    if dump is not None:
        release(staged(dump))
        staged(dump).unlink(missing_ok=True)
    if show_dir is not None:
        release(staged(show_dir))
        shutil.rmtree(staged(show_dir), ignore_errors=True)


def begin(dump: Path | None, show_dir: Path | None) -> None:
    """Make and lock the staged outputs (main process, before the rendezvous, so no other rank has drawn yet)."""
    discard(dump, show_dir)
    if dump is not None:
        dump.parent.mkdir(parents=True, exist_ok=True)
        staged(dump).touch()  # DumpResults writes it at the end of the test
        lock_tmp(staged(dump))
    if show_dir is not None:
        staged(show_dir).mkdir(parents=True)
        lock_tmp(staged(show_dir))


def finish(dump: Path | None, show_dir: Path | None) -> None:
    """Move the finished outputs into place (main process, after the test loop synchronised every rank)."""
    if dump is not None:
        dump.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged(dump), dump)
        release(staged(dump))
    if show_dir is not None:
        stage = staged(show_dir)
        show_dir.mkdir(parents=True, exist_ok=True)
        if stage.is_dir():
            _merge(stage, show_dir)
        release(stage)
        if stage.is_dir():
            stage.rmdir()


def _merge(src: Path, dst: Path) -> None:
    """Move what ``src`` holds into ``dst``: a picture replaces the one of the same name, a folder that exists in
    both (a Human-Art scenario from an earlier run) is merged, so a second run into one --show-dir works."""
    for name in sorted(os.listdir(src)):
        here, there = src / name, dst / name
        if here.is_dir() and not here.is_symlink() and there.is_dir() and not there.is_symlink():
            _merge(here, there)
            here.rmdir()
        else:
            os.replace(here, there)


__all__ = ["begin", "discard", "finish", "staged"]
