"""The output guard: before any work, every path a command writes is compared with every path it reads.

An output clashes with an input when it is the same file or folder (by resolved path, or by device and inode, so
a symlink, a hard link or a bind mount of the input is caught too), when it lies inside an input folder (its files
would mix with what the command reads, and be read back next time) or when it is a folder that contains an input
(writing into it replaces inputs that share an output's name). A run folder that is meant to hold the command's
own inputs (a training work dir with its checkpoints) is declared with ``may_contain``.

A clash is one :class:`~mmpx.errors.MmpxError` naming both paths; nothing has been written yet.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from mmpx.errors import MmpxError

PathLike = str | os.PathLike
Paths = Mapping[str, PathLike | Iterable[PathLike] | None]


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _ancestors(path: str) -> Iterable[str]:
    parent = os.path.dirname(path)
    while parent and parent != path:
        yield parent
        path, parent = parent, os.path.dirname(parent)


def _inside(inner: str, outer: str) -> bool:
    """``inner`` lies strictly inside folder ``outer`` (resolved paths, then inodes of ``inner``'s parents)."""
    if inner.startswith(outer.rstrip(os.sep) + os.sep):
        return True
    outer_id = _identity(outer)
    if outer_id is None or not os.path.isdir(outer):
        return False
    return any(_identity(parent) == outer_id for parent in _ancestors(inner))


def relation(output: PathLike, input_: PathLike) -> str | None:
    """How ``output`` stands to ``input_``: ``"is"``, ``"lies inside"``, ``"contains"`` or None (apart)."""
    out, inp = os.path.realpath(output), os.path.realpath(input_)
    if out == inp:
        return "is"
    out_id, in_id = _identity(out), _identity(inp)
    if out_id is not None and out_id == in_id:
        return "is"
    if _inside(out, inp):
        return "lies inside"
    if _inside(inp, out):
        return "contains"
    return None


def _flatten(paths: Paths) -> list[tuple[str, Path]]:
    items = []
    for name, value in paths.items():
        if value is None:
            continue
        values = [value] if isinstance(value, (str, os.PathLike)) else list(value)
        items += [(name, Path(v)) for v in values if v is not None and str(v) and "://" not in str(v)]
    return items


def check_apart(outputs: Paths, inputs: Paths, may_contain: Iterable[str] = (),
                writes_inside: Iterable[str] = ()) -> None:
    """Refuse, in one line naming both, any output that is, lies inside or contains an input.

    Args:
        outputs: option name (``"--out-dir"``) -> the path(s) the command writes (None: not given).
        inputs: name (``"IMAGES"``, or a phrase starting with "the ": ``"the config's train_dataloader data"``)
            -> the path(s) it reads.
        may_contain: outputs (by option name) that are run folders allowed to hold inputs (a work dir holding
            the checkpoint being tested); they still may not be or lie inside an input.
        writes_inside: inputs (by name) that are folders the command is meant to write into (a run folder that
            gets a plot); an output may lie inside them, never be them.

    Raises:
        MmpxError: the first clash found.
    """
    allowed, hosts = set(may_contain), set(writes_inside)
    ins = _flatten(inputs)
    for option, out in _flatten(outputs):
        for name, inp in ins:
            rel = relation(out, inp)
            if rel is None or (rel == "contains" and option in allowed) or (rel == "lies inside" and name in hosts):
                continue
            what = name if name.startswith("the ") else f"the input {name}"
            raise MmpxError(f"{option} {out} {rel} {what} ({inp}): writing there would replace or mix "
                            "with what the command reads", "choose an output path outside the inputs, e.g. a "
                            "sibling folder; nothing was written")


__all__ = ["check_apart", "relation"]
