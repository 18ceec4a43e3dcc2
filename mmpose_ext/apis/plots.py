"""PNG plots of a run: training losses against iteration and validation metrics against epoch.

mmengine's ``LocalVisBackend`` writes ``<work_dir>/<timestamp>/vis_data/scalars.json``, one JSON object a line.
Training lines carry ``epoch``, ``iter`` and ``step`` (the global iteration) with the losses; validation lines
carry the metrics (``coco/AP``, ...) and ``step`` but no ``epoch``, which is why MMPose's ``analyze_logs`` cannot
plot them. With mmengine's default ``LoggerHook(log_metric_by_epoch=True)`` a validation line's ``step`` is the
epoch in an epoch-based run; in an iteration-based run (training lines without ``epoch``) it is the iteration,
and metrics are plotted against iteration.

A resumed run has one timestamp folder per start; they are merged in time order, a later start replacing what
an earlier one logged from the step it resumed at onwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

_NOT_METRICS = {"step", "epoch", "iter", "time", "data_time", "lr", "memory"}


@dataclass
class RunScalars:
    """Series read from one or more ``scalars.json`` files: ``{key: ([x, ...], [y, ...])}``."""

    train: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    val: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    val_x: str = "epoch"  # or "iteration" for iteration-based runs
    sources: list[Path] = field(default_factory=list)


def scalars_files(run: str | Path) -> list[Path]:
    """The ``scalars.json`` files of a run folder in time order, or ``[run]`` when it is such a file."""
    run = Path(run)
    if run.is_file():
        return [run]
    return sorted(run.glob("*/vis_data/scalars.json"), key=lambda p: p.parent.parent.name)


def _read_lines(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a run killed mid-write leaves a partial last line
            continue
    return rows


def read_scalars(run: str | Path) -> RunScalars:
    """Parse a run folder (all its timestamps, merged) or one ``scalars.json``."""
    train_rows: list[dict] = []
    val_rows: list[dict] = []
    files = scalars_files(run)
    for path in files:
        rows = _read_lines(path)
        train = [r for r in rows if "iter" in r or "epoch" in r]
        val = [r for r in rows if not ("iter" in r or "epoch" in r) and "step" in r]
        if train:  # this start (re)trains from its first step: what earlier starts logged from there is superseded
            first = min(r["step"] for r in train)
            train_rows = [r for r in train_rows if r["step"] < first]
            limit = min(r["epoch"] for r in train) if all("epoch" in r for r in train) else first
            val_rows = [r for r in val_rows if r["step"] < limit]
        elif val:
            first = min(r["step"] for r in val)
            val_rows = [r for r in val_rows if r["step"] < first]
        train_rows += train
        val_rows += val
    by_epoch = bool(train_rows) and all("epoch" in r for r in train_rows)
    out = RunScalars(val_x="epoch" if by_epoch or not train_rows else "iteration", sources=files)
    for row in train_rows:
        for key, value in row.items():
            if "loss" in key and isinstance(value, (int, float)):
                xs, ys = out.train.setdefault(key, ([], []))
                xs.append(row["step"])
                ys.append(value)
    for row in val_rows:
        for key, value in row.items():
            if key not in _NOT_METRICS and isinstance(value, (int, float)) and not isinstance(value, bool):
                xs, ys = out.val.setdefault(key, ([], []))
                xs.append(row["step"])
                ys.append(value)
    return out


def _plot(series: dict, title: str, xlabel: str, ylabel: str, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend switch, safe inside a training process

    fig = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for key, (xs, ys) in series.items():
        ax.plot(xs, ys, marker="o" if len(xs) <= 50 else None, markersize=3, label=key)
    if xlabel == "epoch":
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    fig.savefig(path, format="png")
    return path


def plot_run(run_dir_or_scalars_json: str | Path, out_dir: str | Path | None = None, keys=None) -> list[Path]:
    """Write ``loss.png`` (every loss vs iteration) and ``val.png`` (every validation metric vs epoch).

    Args:
        run_dir_or_scalars_json: a run folder (``work_dir``; every ``<timestamp>/vis_data/scalars.json`` in it is
            merged) or one ``scalars.json``.
        out_dir: where the PNGs go; default the run folder (for a file: the folder holding it).
        keys: only these loss / metric keys (default all).

    Returns:
        The PNGs written; a plot with no data (e.g. no validation yet) is not written.
    """
    source = Path(run_dir_or_scalars_json)
    out = Path(out_dir) if out_dir is not None else (source.parent if source.is_file() else source)
    out.mkdir(parents=True, exist_ok=True)
    scalars = read_scalars(source)
    wanted = set(keys) if keys else None
    train = {k: v for k, v in scalars.train.items() if wanted is None or k in wanted}
    # COCO reports -1 for "not applicable" (e.g. no large instances): such a series carries no information
    val = {k: v for k, v in scalars.val.items() if (wanted is None or k in wanted) and any(y != -1 for y in v[1])}
    written = []
    if train:
        written.append(_plot(train, f"Training loss: {source.name}", "iteration", "loss", out / "loss.png"))
    if val:
        written.append(_plot(val, f"Validation metrics: {source.name}", scalars.val_x, "metric", out / "val.png"))
    return written


__all__ = ["RunScalars", "plot_run", "read_scalars", "scalars_files"]
