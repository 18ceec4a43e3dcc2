"""Trajectory tables: one row per frame, track and keypoint, written as CSV (or Parquet with pyarrow) and read
back with checks (``mmpx plot trajectories``).

Columns, in order: ``video`` (the input's name), ``frame`` (from 0), ``time`` (seconds: frame / fps),
``track_id``, ``keypoint`` (its name), ``x``, ``y`` (pixels; smoothed with ``--smooth``), ``score``, ``visible``
(1 when score >= the keypoint threshold, else 0); with smoothing also ``x_raw``, ``y_raw`` (the model's own
values); from a model with a visibility head (``mmpx configs new --visibility``) also ``visible_prob``, the head's
probability (0..1) that the keypoint is seen and not hidden (``visible`` stays the score test, as for every
model). A frame in which a track has no instance has no rows for it.

In the CSV, a text cell (``video``, ``keypoint``) that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return gets a leading ``'``, as OWASP recommends against formula injection: a spreadsheet would run
``=HYPERLINK(...)`` from a video's file name. A cell that starts with ``'`` gets one too, so that the escape can
be undone exactly: :func:`read_trajectories` removes it. Numbers are never escaped (a negative ``x`` stays a
number). Parquet keeps its text columns as they are: its cells are typed (strings stay strings), and spreadsheets
do not evaluate them as formulas when they import one.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError

COLUMNS = ("video", "frame", "time", "track_id", "keypoint", "x", "y", "score", "visible")
RAW_COLUMNS = ("x_raw", "y_raw")
VISIBLE_PROB = "visible_prob"  # a visibility head's probability, after ``visible`` (such models only)
_INT = ("frame", "track_id", "visible")
_FLOAT = ("time", "x", "y", "score", "x_raw", "y_raw", VISIBLE_PROB)
_TEXT = ("video", "keypoint")
_MAY_BE_EMPTY = ("x", "y", "x_raw", "y_raw", VISIBLE_PROB)  # NaN in the arrays
# what makes a spreadsheet read a cell as a formula (OWASP, CSV injection), and the escape mark itself
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


class TrajectoryTable:
    """Rows gathered frame by frame (as arrays: a long video stays small in memory).

    Args:
        keypoint_names: the model's keypoint names, in order.
        kpt_thr: a keypoint is ``visible`` when its score is at least this.
        class_name: a multi-class model's class: a ``class`` column after ``track_id``.
        classes: instances of several classes: each class's (name, keypoint names) in the union's order (its
            blocks one after the other, as ``keypoint_names``); :meth:`add` then takes each instance's class,
            and each row has its instance's own keypoint names and ``class``.
    """

    def __init__(self, keypoint_names: list[str], kpt_thr: float = 0.3, class_name: str | None = None,
                 classes: list[tuple[str, list[str]]] | None = None) -> None:
        self.keypoint_names = [str(n) for n in keypoint_names]
        self.class_name = None if class_name is None else str(class_name)
        self.classes = None if classes is None else [(str(c), [str(n) for n in names]) for c, names in classes]
        self.kpt_thr = float(kpt_thr)
        self._parts: list[tuple] = []
        self._visible: list[np.ndarray | None] = []  # each part's visibility probabilities (N, K), or None
        self.has_raw = False
        self.has_visible = False

    def add(self, video: str, frame: int, time: float, track_ids, keypoints, scores, raw_keypoints=None,
            classes=None, visible=None) -> None:
        """One frame's instances: track ids (N,), keypoints (N, K, 2), scores (N, K), raw keypoints (N, K, 2),
        a visibility head's probabilities (N, K) or None; with several classes (``classes`` given here and to the
        table) K is the union's and ``classes`` (N,) each instance's class index: its rows hold its class's block
        only."""
        keypoints = np.asarray(keypoints, np.float64).reshape(len(track_ids), len(self.keypoint_names), 2)
        if len(track_ids) == 0:
            return
        raw = None if raw_keypoints is None else np.asarray(raw_keypoints, np.float64).reshape(keypoints.shape)
        self.has_raw = self.has_raw or raw is not None
        ids = np.asarray(track_ids, np.int64)
        scores = np.asarray(scores, np.float64).reshape(keypoints.shape[:2])
        if classes is None or self.classes is None:
            self._parts.append((video, int(frame), float(time), ids, keypoints, scores, raw, self.keypoint_names,
                                self.class_name))
            self._add_visible(visible, scores.shape)
            return
        starts = np.cumsum([0] + [len(names) for _, names in self.classes])
        for i, c in enumerate(np.asarray(classes).tolist()):  # each instance its class's block, in order
            s, e = starts[c], starts[c + 1]
            self.add_instance(video, frame, time, ids[i], keypoints[i, s:e], scores[i, s:e],
                              None if raw is None else raw[i, s:e], self.classes[c][1], self.classes[c][0],
                              None if visible is None else np.asarray(visible)[i, s:e])

    def add_instance(self, video: str, frame: int, time: float, track_id: int, keypoints, scores, raw_keypoints,
                     keypoint_names: list[str], class_name: str | None, visible=None) -> None:
        """One instance with its own keypoints (K_i, 2), scores (K_i,), raw keypoints (or None), keypoint names,
        class and visibility probabilities (K_i,) (or None): instances of several classes in one table."""
        keypoints = np.asarray(keypoints, np.float64).reshape(1, len(keypoint_names), 2)
        raw = None if raw_keypoints is None else np.asarray(raw_keypoints, np.float64).reshape(keypoints.shape)
        self.has_raw = self.has_raw or raw is not None
        self._parts.append((video, int(frame), float(time), np.asarray([track_id], np.int64), keypoints,
                            np.asarray(scores, np.float64).reshape(1, -1), raw, [str(n) for n in keypoint_names],
                            None if class_name is None else str(class_name)))
        self._add_visible(visible, (1, len(keypoint_names)))

    def _add_visible(self, visible, shape: tuple[int, int]) -> None:
        self._visible.append(None if visible is None else np.asarray(visible, np.float64).reshape(shape))
        self.has_visible = self.has_visible or visible is not None

    def __len__(self) -> int:
        return sum(p[3].size * len(p[7]) for p in self._parts)

    @property
    def columns(self) -> tuple[str, ...]:
        base = COLUMNS
        if self.class_name is not None or self.classes is not None:
            at = COLUMNS.index("track_id") + 1
            base = COLUMNS[:at] + ("class",) + COLUMNS[at:]
        if self.has_visible:
            base = base + (VISIBLE_PROB,)
        return base + (RAW_COLUMNS if self.has_raw else ())

    def arrays(self) -> dict[str, np.ndarray]:
        """Every column as one array (``video`` and ``keypoint`` as str, ``visible`` as bool; ``visible_prob``
        NaN in rows of a model without visibility)."""
        cols: dict[str, list] = {c: [] for c in self.columns}
        for (video, frame, time, ids, kpts, scores, raw, names, cls), visible in zip(self._parts, self._visible,
                                                                                     strict=True):
            n, k = len(ids), len(names)
            cols["video"].append(np.full(n * k, video, object))
            cols["frame"].append(np.full(n * k, frame, np.int64))
            cols["time"].append(np.full(n * k, time))
            cols["track_id"].append(np.repeat(ids, k))
            if "class" in cols:
                cols["class"].append(np.full(n * k, cls, object))
            cols["keypoint"].append(np.tile(np.asarray(names, object), n))
            cols["x"].append(kpts[..., 0].reshape(-1))
            cols["y"].append(kpts[..., 1].reshape(-1))
            cols["score"].append(scores.reshape(-1))
            cols["visible"].append(scores.reshape(-1) >= self.kpt_thr)
            if self.has_visible:
                cols[VISIBLE_PROB].append(np.full(n * k, np.nan) if visible is None else visible.reshape(-1))
            if self.has_raw:
                source = kpts if raw is None else raw
                cols["x_raw"].append(source[..., 0].reshape(-1))
                cols["y_raw"].append(source[..., 1].reshape(-1))
        empty = {"video": object, "keypoint": object, "class": object, "frame": np.int64, "track_id": np.int64,
                 "visible": bool}
        return {c: np.concatenate(v) if v else np.zeros(0, empty.get(c, np.float64)) for c, v in cols.items()}

    def rows(self) -> list[dict]:
        """The rows as dicts (plain Python values)."""
        arrays = self.arrays()
        names = list(arrays)
        return [dict(zip(names, values, strict=True))
                for values in zip(*(arrays[c].tolist() for c in names), strict=True)]

    def to_frame(self):
        """A pandas DataFrame (pandas is optional)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise MmpxError("a trajectory DataFrame needs pandas", "pip install pandas, or use rows()") from exc
        return pd.DataFrame(self.arrays(), columns=list(self.columns))

    def write(self, path: str | Path) -> Path:
        """Write atomically: Parquet for a ``.parquet`` path (needs pyarrow), else CSV."""
        path = Path(path)
        if path.suffix.lower() == ".parquet":
            write_parquet(self, path)
        else:
            write_csv(self, path)
        return path


def _fmt(value: float, digits: int) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def escape_cell(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading ``'`` before ``= + - @``, tab, CR (and ``'``)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_text(text: str) -> str:
    """``text`` escaped and, when it holds a comma, quote, CR or LF, quoted: Python 3.11's csv writer leaves a CR
    unquoted when the line end is ``\\n``, which breaks the row when the file is read back."""
    text = escape_cell(text)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\r\n') else text


def unescape_cell(text: str) -> str:
    """The text :func:`escape_cell` was given."""
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA_START) else text


def write_csv(table: TrajectoryTable, path: str | Path) -> None:
    """The table as CSV (comma separated, a header line, ``\\n`` line ends), written atomically."""
    from mmpx.atomic import atomic_open

    arrays = table.arrays()
    cols = table.columns
    digits = {"time": 4, "x": 3, "y": 3, "score": 4, "x_raw": 3, "y_raw": 3, VISIBLE_PROB: 4}
    lists = {c: arrays[c].tolist() for c in cols}
    for c in [c for c in cols if c in _TEXT or c == "class"]:  # each distinct name escaped once, not once per row
        escaped = {v: _csv_text(v) for v in set(lists[c])}
        lists[c] = [escaped[v] for v in lists[c]]
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(cols) + "\n")
        for i in range(len(arrays["frame"])):
            f.write(",".join(_fmt(lists[c][i], digits[c]) if c in digits else str(int(lists[c][i])) if c in _INT
                             else lists[c][i] for c in cols) + "\n")


def write_parquet(table: TrajectoryTable, path: str | Path) -> None:
    """The table as Parquet (pyarrow), written atomically."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MmpxError(f"writing {path} (Parquet) needs pyarrow, which does not import ({exc})",
                        "pip install pyarrow, or write CSV (--save-csv)") from exc
    from mmpx.atomic import atomic_open

    arrays = table.arrays()
    data = pa.table({c: pa.array(arrays[c].tolist() if arrays[c].dtype == object else arrays[c])
                     for c in table.columns})
    with atomic_open(path, "wb") as f:
        pq.write_table(data, f)


def read_trajectories(path: str | Path) -> dict[str, np.ndarray]:
    """Read a trajectory file (CSV, or Parquet by its suffix) into column arrays, checked.

    Raises:
        MmpxError: the file is missing or unreadable, lacks a column, or has a value that is not a number (or not
            finite where it must be); the message names the file and line.
    """
    path = Path(path)
    hint = ("a trajectory file is what mmpx infer --save-csv writes: a header line with "
            + ",".join(COLUMNS) + " and one row per frame, track and keypoint")
    if not path.is_file():
        raise MmpxError(f"{path} does not exist" if not path.exists() else f"{path} is not a file", hint)
    if path.suffix.lower() == ".parquet":
        return _read_parquet(path, hint)
    try:
        with path.open(encoding="utf-8", newline="") as f:  # newline="": a CR inside a quoted cell stays a CR
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise MmpxError(f"cannot read {path}: {exc}", hint) from exc
    if "\x00" in text:
        raise MmpxError(f"{path} is not a text (CSV) file", hint)
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        rows = list(reader)
    except csv.Error as exc:
        raise MmpxError(f"{path}: not a readable CSV file ({exc})", hint) from exc
    if not header:
        raise MmpxError(f"{path} is empty", hint)
    header = [h.strip() for h in header]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise MmpxError(f"{path}: the header lacks column(s) {', '.join(missing)}: {','.join(header)[:80]}", hint)
    wanted = [c for c in COLUMNS + RAW_COLUMNS + (VISIBLE_PROB,) if c in header]
    at = {c: header.index(c) for c in wanted}
    values: dict[str, list] = {c: [] for c in wanted}
    for line, row in enumerate(rows, start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise MmpxError(f"{path}:{line}: {len(row)} value(s), the header has {len(header)} (a cut or broken "
                            "line?)", hint)
        for c in wanted:
            values[c].append(_parse(row[at[c]], c, path, line, hint))
    return _arrays(values, path, hint)


def _parse(text: str, column: str, path: Path, line: int, hint: str):
    if column in _TEXT:
        return unescape_cell(text.strip())
    text = text.strip()
    if text == "" and column in _MAY_BE_EMPTY:
        return math.nan  # an unknown point, or no visibility
    try:
        value = float(text)
    except ValueError:
        raise MmpxError(f"{path}:{line}: {column} is not a number: {text[:40]!r}", hint) from None
    if not math.isfinite(value):
        raise MmpxError(f"{path}:{line}: {column} is not a finite number: {text[:40]!r}", hint)
    if column in _INT and value != int(value):
        raise MmpxError(f"{path}:{line}: {column} must be a whole number, got {text[:40]!r}", hint)
    return value


def _arrays(values: dict[str, list], path: Path, hint: str) -> dict[str, np.ndarray]:
    out = {}
    for c, v in values.items():
        if c in ("video", "keypoint"):
            out[c] = np.asarray(v, dtype=object)
        elif c in _INT:
            out[c] = np.asarray(v, np.float64).astype(np.int64)
        else:
            out[c] = np.asarray(v, np.float64)
    if len(out["frame"]) == 0:
        raise MmpxError(f"{path} has a header but no rows", hint)
    if (out["frame"] < 0).any() or (out["time"] < 0).any():
        raise MmpxError(f"{path}: frame and time must not be negative", hint)
    return out


def _read_parquet(path: Path, hint: str) -> dict[str, np.ndarray]:
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MmpxError(f"reading {path} (Parquet) needs pyarrow ({exc})", "pip install pyarrow") from exc
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own error types for broken files
        raise MmpxError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {str(exc)[:120]})", hint) from exc
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise MmpxError(f"{path}: lacks column(s) {', '.join(missing)}", hint)
    values = {}
    for c in (c for c in COLUMNS + RAW_COLUMNS + (VISIBLE_PROB,) if c in table.column_names):
        column = table.column(c).to_pylist()
        if c in ("video", "keypoint"):
            values[c] = [str(v) for v in column]
            continue
        bad = next((i for i, v in enumerate(column) if not isinstance(v, (int, float, bool))
                    or (c not in _MAY_BE_EMPTY and not math.isfinite(float(v)))), None)
        if bad is not None:
            raise MmpxError(f"{path}: row {bad + 1}: {c} is not a finite number: {column[bad]!r}", hint)
        values[c] = [float(v) for v in column]
    return _arrays(values, path, hint)




def check_table_path(path: str | Path, option: str) -> None:
    """Before a run: a ``.parquet`` target needs pyarrow, and the file must be writable."""
    from mmpx.atomic import check_writable

    if Path(path).suffix.lower() == ".parquet":
        try:
            import pyarrow.parquet  # noqa: F401
        except ImportError as exc:
            raise MmpxError(f"{option} {path}: Parquet needs pyarrow, which does not import ({exc})",
                            "pip install pyarrow, or write CSV with --save-csv") from exc
    check_writable(path, option)


__all__ = ["COLUMNS", "RAW_COLUMNS", "VISIBLE_PROB", "TrajectoryTable", "check_table_path", "escape_cell",
           "read_trajectories", "unescape_cell", "write_csv", "write_parquet"]
