"""Writing the new sigmas into a metainfo file, editing only its ``sigmas`` so the rest stays byte for byte."""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from pathlib import Path

from mmpx.errors import MmpxError

# ---------------------------------------------------------------- writing


def _format(sigmas: Sequence[float], indent: int) -> str:
    rows = [", ".join(repr(s) for s in sigmas[i:i + 10]) for i in range(0, len(sigmas), 10)]
    return "[" + (",\n" + " " * (indent + 1)).join(rows) + "]"


def _dataset_info(tree: ast.Module) -> ast.expr | None:
    """The value of the first ``dataset_info = ...`` (the one :func:`~mmpx.metainfo.load_metainfo` reads)."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "dataset_info"
                                                for t in node.targets):
            return node.value
    return None


def sigmas_text(text: str, sigmas: Sequence[float]) -> str | None:
    """``text`` (a metainfo file) with its ``sigmas`` replaced, or added to ``dataset_info``; every other byte,
    comments and layout included, stays. None when ``dataset_info`` is not a ``dict(...)`` or ``{...}``."""
    tree = ast.parse(text)
    node = _dataset_info(tree)
    raw = text.encode("utf-8")
    # ast positions are (line, UTF-8 byte column); Python ends lines at \n, \r\n or \r
    starts = [0] + [m.end() for m in re.finditer(rb"\r\n|\n|\r", raw)]

    def at(line: int, col: int) -> int:
        return starts[line - 1] + col

    def column(pos: int) -> int:
        line_start = max(s for s in starts if s <= pos)
        return len(raw[line_start:pos].decode("utf-8"))

    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
        value = next((kw.value for kw in node.keywords if kw.arg == "sigmas"), None)
        elements = [*node.args, *[kw.value for kw in node.keywords]]
        key = "sigmas="
    elif isinstance(node, ast.Dict):
        value = next((v for k, v in zip(node.keys, node.values, strict=True)
                      if isinstance(k, ast.Constant) and k.value == "sigmas"), None)
        elements = list(node.values)
        key = "'sigmas': "
    else:
        return None
    if value is not None:
        begin, end = at(value.lineno, value.col_offset), at(value.end_lineno, value.end_col_offset)
        new = _format(sigmas, column(begin)).encode("utf-8")
    else:  # no sigmas yet: after the last entry (before any trailing comma), or inside an empty dict()
        end_of = at(node.end_lineno, node.end_col_offset)
        if elements:
            last = elements[-1]
            begin = end = at(last.end_lineno, last.end_col_offset)
            new = f", {key}{_format(sigmas, column(begin) + 2 + len(key))}".encode()
        else:
            begin = end = end_of - 1
            new = f"{key}{_format(sigmas, column(begin) + len(key))}".encode()
    return (raw[:begin] + new + raw[end:]).decode("utf-8")


def write_sigmas(source: str | Path | dict, out: str | Path, sigmas: Sequence[float]) -> str:
    """Write the metainfo ``source`` (a file, or a dataset_info dict) with ``sigmas`` to ``out``, atomically.

    A file is edited in place of its ``sigmas`` only, so names, skeleton, swaps, joint weights, colours and
    comments stay as they were. What was written is read back before it replaces ``out``: it must load to the
    same metainfo with the new sigmas, or nothing is written.

    Returns:
        How: ``"replaced"`` (the sigmas list), ``"added"`` (a file without sigmas) or ``"rewritten"``
        (a dict, or a file whose ``dataset_info`` is not a literal dict: written out in full).
    """
    from mmpx import atomic
    from mmpx.metainfo import dumps, load_metainfo

    sigmas = [float(s) for s in sigmas]
    if isinstance(source, dict):
        info, text = source, None
    else:
        info = load_metainfo(source)
        text = Path(source).read_text(encoding="utf-8")
    expected = dict(info, sigmas=sigmas)
    new_text = sigmas_text(text, sigmas) if text is not None else None
    how = "rewritten" if new_text is None else "replaced" if "sigmas" in info else "added"
    if new_text is None:
        new_text = dumps(expected)
    with atomic.atomic_path(out, suffix=".py") as tmp:
        tmp.write_text(new_text, encoding="utf-8")
        if load_metainfo(tmp) != expected:
            raise MmpxError(f"{out}: the edited metainfo did not read back as the original with new sigmas; "
                            "nothing was written", "report this with the metainfo file attached")
    return how
