"""Metric tables: flat metrics from any JSON, tables on screen, JSON and Markdown files, comparisons, and the
tables of an ``mmpx-eval/1`` result (overall, per keypoint, swaps, per group).

Light on purpose (no torch, mmengine or mmpose): ``mmpx compare`` runs on a laptop without the training stack.
Keys of the form ``prefix/metric`` (``Human-Art_real_human/coco/AP``) are laid out with one column per prefix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from mmpx import atomic
from mmpx.errors import MmpxError

# containers of ``mmpx eval --out`` (schema mmpx-eval/1) whose name is not part of a metric's key
_TRANSPARENT = ("metrics", "groups")
# bookkeeping keys of MMPose's ``vis_data/scalars.json`` lines
_LOG_KEYS = {"step", "epoch", "iter", "lr", "base_lr", "time", "data_time", "memory"}
# metrics where a drop is an improvement (coloured green in a comparison)
_LOWER_IS_BETTER = ("epe", "nme", "loss", "error", "swap")
_HINT = "give a metrics JSON file (mmpx test --out, mmpx eval --out)"


@dataclass(frozen=True)
class Row:
    """One metric of a comparison; ``a`` or ``b`` is None when only the other side has it."""

    key: str
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def relative(self) -> float | None:
        """(b - a) / |a|, or None when a is 0 or missing."""
        return None if self.delta is None or not self.a else self.delta / abs(self.a)

    def as_dict(self) -> dict[str, Any]:
        return dict(asdict(self), delta=self.delta, relative=self.relative)


def flatten(obj: Any, prefix: str = "") -> dict[str, float]:
    """Numeric leaves of nested dicts as ``outer/inner`` keys; lists of ``{'name': ...}`` rows by name.

    The top-level ``metrics`` and ``groups`` of an ``mmpx eval`` file add no prefix, so its overall AP is
    ``AP`` and a group's is ``<group>/AP``. Booleans, strings, None and NaN are left out.
    """
    out: dict[str, float] = {}
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            transparent = not prefix and key in _TRANSPARENT and isinstance(value, Mapping)
            out.update(flatten(value, prefix if transparent else f"{prefix}{key}/"))
    elif isinstance(obj, list) and all(isinstance(r, Mapping) and "name" in r for r in obj):
        for row in obj:
            out.update(flatten({k: v for k, v in row.items() if k != "name"}, f"{prefix}{row['name']}/"))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and not math.isnan(obj):
        out[prefix.rstrip("/")] = float(obj)
    return out


def load_metrics(path: str | Path) -> dict[str, float]:
    """Flat numeric metrics of a JSON file: ``mmpx test --out``, ``mmpx eval --out``, any nested metrics JSON,
    or an MMPose log's ``scalars.json`` (JSON lines: the last line with metrics is used).

    Raises:
        MmpxError: the file is missing, is not JSON, or has no numeric metrics; the message names it.
    """
    path = Path(path)
    if not path.is_file():
        raise MmpxError(f"metrics file {path} does not exist", "give the JSON that mmpx test --out wrote")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        metrics = flatten(json.loads(text))
    except RecursionError:
        raise MmpxError(f"{path} is not a metrics file: its JSON is nested too deeply to read", _HINT) from None
    except json.JSONDecodeError:
        metrics = _last_log_line(text)
        if metrics is None:
            raise MmpxError(f"{path} is not JSON", _HINT) from None
    if not metrics:
        raise MmpxError(f"{path} has no numeric metrics", _HINT)
    return metrics


def _last_log_line(text: str) -> dict[str, float] | None:
    """The metrics of the last JSON line that has any beyond bookkeeping; None if a line is not JSON."""
    found: dict[str, float] = {}
    for line in filter(None, (raw.strip() for raw in text.splitlines())):
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            return None
        metrics = {k: v for k, v in flatten(record).items() if k not in _LOG_KEYS and not k.startswith("loss")}
        if metrics:
            found = metrics
    return found


def select(metrics: Mapping[str, float], patterns: Iterable[str] | None) -> dict[str, float]:
    """The metrics whose key matches any of the glob ``patterns`` (all when None or empty)."""
    patterns = [p for p in (patterns or []) if p]
    return {k: v for k, v in metrics.items() if not patterns or any(fnmatch(k, p) for p in patterns)}


def compare(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[Row]:
    """One :class:`Row` per metric of ``a`` then each metric only ``b`` has; nested inputs are flattened."""
    fa, fb = flatten(dict(a)), flatten(dict(b))
    return [Row(key, fa.get(key), fb.get(key)) for key in [*fa, *(k for k in fb if k not in fa)]]


def closest_names(a: Iterable[str], b: Iterable[str], limit: int = 5) -> list[tuple[str, str]]:
    """Likely pairs when two files name their metrics differently (an official MPII file's ``Head`` against
    mmpx's ``Head PCK``): a name contained in the other (any case), else difflib's closest above 0.6."""
    import difflib

    b = list(b)
    pairs = []
    for key in a:
        low = key.lower().rsplit("/", 1)[-1]
        inside = [k for k in b if low and (low in k.lower() or k.lower().rsplit("/", 1)[-1] in key.lower())]
        match = min(inside, key=len) if inside else next(iter(difflib.get_close_matches(key, b, 1, 0.6)), None)
        if match is not None:
            pairs.append((key, match))
        if len(pairs) >= limit:
            break
    return pairs


def lower_is_better(key: str) -> bool:
    return any(word in key.lower() for word in _LOWER_IS_BETTER)


def check_deltas(rows: Iterable[Row], limits: Mapping[str, float]) -> list[str]:
    """Failures of ``--fail-below``: each ``key`` whose delta is below its limit (or that is missing)."""
    by_key = {row.key: row for row in rows}
    failures = []
    for key, limit in limits.items():
        row = by_key.get(key)
        if row is None or row.delta is None:
            failures.append(f"{key}: not in both files")
        elif row.delta < limit:
            failures.append(f"{key}: changed by {row.delta:+.4f}, below {limit:+.4f}")
    return failures


# -- layout ---------------------------------------------------------------------------------------------------
def by_prefix(metrics: Mapping[str, float]) -> tuple[list[str], dict[str, dict[str, float]]]:
    """(columns, {metric: {column: value}}): ``prefix/metric`` keys split at the first ``/``."""
    columns: list[str] = []
    rows: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        column, _, metric = key.partition("/") if "/" in key else ("value", "", key)
        if column not in columns:
            columns.append(column)
        rows.setdefault(metric, {})[column] = value
    return columns, rows


def fmt(value: float | None, signed: bool = False, percent: bool = False) -> str:
    if value is None:
        return "-"
    if percent:
        return f"{value:+.1%}"
    return f"{value:+.4f}" if signed else f"{value:.4f}"


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, body)])


def write_json(metrics: Mapping[str, Any], path: str | Path) -> Path:
    """Write the metrics, flattened, as a JSON object of floats."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(flatten(dict(metrics)), indent=2) + "\n")
    return path


def write_markdown(metrics: Mapping[str, Any], path: str | Path, title: str | None = None) -> Path:
    """Write the metrics as a Markdown table, one column per ``prefix/`` (see :func:`by_prefix`)."""
    columns, rows = by_prefix(flatten(dict(metrics)))
    body = [[metric, *(fmt(values.get(c)) for c in columns)] for metric, values in rows.items()]
    text = (f"# {title}\n\n" if title else "") + markdown_table(["metric", *columns], body) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)
    return path


def print_table(metrics: Mapping[str, Any], title: str | None = None, console=None) -> None:
    """Print the metrics as a rich table, one column per ``prefix/``."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    columns, rows = by_prefix(flatten(dict(metrics)))
    table = Table(title=title)
    table.add_column("metric", overflow="fold")
    for column in columns:
        table.add_column(escape(column), justify="right")
    for metric, values in rows.items():
        table.add_row(escape(metric), *(fmt(values.get(c)) for c in columns))
    (console or Console()).print(table)


def _compare_cells(row: Row) -> list[str]:
    return [row.key, fmt(row.a), fmt(row.b), fmt(row.delta, signed=True), fmt(row.relative, percent=True)]


def write_compare_markdown(rows: Iterable[Row], path: str | Path, names: tuple[str, str] = ("A", "B"),
                           title: str | None = None) -> Path:
    """Write a comparison as a Markdown table: metric, A, B, delta (B - A), relative change."""
    header = ["metric", names[0], names[1], f"delta ({names[1]} - {names[0]})", "relative"]
    text = (f"# {title}\n\n" if title else "") + markdown_table(header, [_compare_cells(r) for r in rows]) + "\n"
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, text)
    return path


def print_compare(rows: Iterable[Row], names: tuple[str, str] = ("A", "B"), console=None) -> None:
    """Print a comparison side by side; a delta is green where it is an improvement, red where not."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for column in ("metric", escape(names[0]), escape(names[1]), "delta", "relative"):
        table.add_column(column, justify="left" if column == "metric" else "right", overflow="fold")
    for row in rows:
        cells = [escape(c) for c in _compare_cells(row)]
        if row.delta:
            colour = "green" if (row.delta > 0) != lower_is_better(row.key) else "red"
            cells[3:] = [f"[{colour}]{c}[/{colour}]" for c in cells[3:]]
        table.add_row(*cells)
    (console or Console()).print(table)


# --- the tables of an mmpx-eval/1 result
def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}"


def _pair(names: list[str]) -> str:
    """``left_eye/right_eye``; union names (``car/left_front``) already hold a slash, so spaces set them apart."""
    return (" / " if any("/" in n for n in names) else "/").join(names)


def eval_rows(result: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each table: overall, per class (several classes), per keypoint, swaps, per
    group."""
    tables = [("Overall", ["metric", "value"], [[k, _cell(v)] for k, v in result["metrics"].items()])]
    if result.get("classes"):  # several classes: each scored alone; the overall figures are their means
        extra = [c for c in ("PCK", "EPE") if c in result["metrics"]]
        cols = ["AP", "AP .5", "AP .75", "AR", *extra]
        tables.append(("Per class", ["class", "instances", *cols],
                       [[c["name"], str(c["annotations"]), *(_cell(c["metrics"].get(k)) for k in cols)]
                        for c in result["classes"]]))
    kpts = result.get("keypoints")
    if kpts:
        cols = [c for c in ("count", "PCK", "EPE", "OKS AP") if c in kpts[0]]
        tables.append(("Per keypoint", ["keypoint", *cols], [[r["name"], *(_cell(r[c]) for c in cols)]
                                                             for r in kpts]))
    if result.get("swaps"):
        tables.append(("Left/right swaps", ["pair", "swapped", "full swaps", "total", "rate"],
                       [[_pair(p["pair"]), str(p["swapped"]), str(p["swapped_pairs"]), str(p["total"]),
                         _cell(p["rate"])] for p in result["swaps"]]))
    if result.get("groups"):
        by = result["by"] if isinstance(result["by"], str) else ",".join(result["by"])
        cols = ["AP", "AP .5", "AP .75", "AR"]
        tables.append((f"Per {by}", [by, "images", *cols],
                       [[value, str(g["num_images"]), *(_cell(g[c]) for c in cols)]
                        for value, g in result["groups"].items()]))
    return tables


def eval_tables(result: dict) -> list:
    """rich ``Table`` objects for :func:`eval_rows`."""
    from rich.table import Table

    out = []
    for title, header, body in eval_rows(result):
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in body:
            table.add_row(*row)
        out.append(table)
    return out


def eval_markdown(result: dict) -> str:
    """All tables as Markdown."""
    parts = [f"## {title}\n\n{markdown_table(header, body)}" for title, header, body in eval_rows(result)]
    return "\n\n".join(parts) + "\n"
