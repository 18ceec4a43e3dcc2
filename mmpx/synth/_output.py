"""Where a synthetic set is written: beside ``out``, then renamed into place as a whole, so a folder synth wrote
before is replaced (never old files mixed with new ones) and any other non-empty folder is refused."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mmpx.atomic import replace_dir
from mmpx.atomic.lock import hold
from mmpx.atomic.stale import new_tmp_dir, release
from mmpx.errors import MmpxError

SYNTH_MARK = ".mmpx-synth"  # a folder holding it was written by mmpx data synth, which may replace it
T = TypeVar("T")


def write_set(out: str | Path, what: str, render: Callable[[Path], T]) -> T:
    """Run ``render(folder)`` on a new folder beside ``out``, mark it (``what`` says which synth wrote it) and
    move it to ``out``; returns what ``render`` returned.

    Raises:
        MmpxError: ``out`` is a file, a link, or a non-empty folder synth did not write.
    """
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise MmpxError(f"{out} exists and is not a folder", "give a new folder path")
    if out.is_dir() and any(out.iterdir()) and not (out / SYNTH_MARK).is_file():
        raise MmpxError(f"{out} is not empty and was not written by mmpx data synth: its files could be replaced",
                        "give a new or empty folder (a folder synth wrote before is replaced as a whole)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with hold(out, "output folder"):
        stage = new_tmp_dir(out.parent, f".{out.name}.mmpx-tmp-")
        try:
            result = render(stage)
            (stage / SYNTH_MARK).write_text(f"written by mmpx data synth {what}\n")
            replace_dir(stage, out)  # the whole set at once
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise
        finally:
            release(stage)
    return result
