"""PNG plots of a run: training losses against iteration and validation metrics against epoch.

mmengine's ``LocalVisBackend`` writes ``<work_dir>/<timestamp>/vis_data/scalars.json``, one JSON object a line.
Training lines carry ``epoch``, ``iter`` and ``step`` (the global iteration) with the losses; validation lines
carry the metrics (``coco/AP``, ...) and ``step`` but no ``epoch``, which is why MMPose's ``analyze_logs`` cannot
plot them. With mmengine's default ``LoggerHook(log_metric_by_epoch=True)`` a validation line's ``step`` is the
epoch in an epoch-based run; in an iteration-based run (training lines without ``epoch``) it is the iteration,
and metrics are plotted against iteration.

A resumed run has one timestamp folder per start; they are merged in time order, a later start replacing what
an earlier one logged from the step it resumed at onwards.

:func:`plot_scalars` (behind ``mmpx plot``) selects keys by glob pattern, puts losses and metrics on a common
x axis on request (``x='iter'`` or ``'epoch'``) and returns what each figure shows; :func:`plot_run` (behind
``PlotHook``) is its folder-output form.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path

from mmpx.atomic import atomic_open
from mmpx.errors import MmpxError

_NOT_METRICS = {"step", "epoch", "iter", "time", "data_time", "lr", "memory"}
_POSITION = {"step", "epoch", "iter"}


@dataclass
class RunScalars:
    """Series read from one or more ``scalars.json`` files: ``{key: ([x, ...], [y, ...])}``.

    ``train`` holds the losses (x: iteration), ``other`` the other training scalars (``lr``, ``acc_pose``,
    ``time``, ...; x: iteration), ``val`` the validation metrics (x: ``val_x``). ``iters_per_epoch`` is inferred
    from the training lines of an epoch-based run (``None`` for an iteration-based one).
    """

    train: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    val: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    val_x: str = "epoch"  # or "iteration" for iteration-based runs
    sources: list[Path] = field(default_factory=list)
    other: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    iters_per_epoch: int | None = None

    def keys(self) -> list[str]:
        return [*self.train, *self.val, *self.other]


@dataclass
class Plot:
    """One PNG written: its path and, per panel, the x axis and the series (legend labels) drawn."""

    path: Path
    panels: list[tuple[str, str, list[str]]]  # (title, x label, series)

    @property
    def series(self) -> list[str]:
        return [s for _, _, names in self.panels for s in names]


def scalars_files(run: str | Path) -> list[Path]:
    """The ``scalars.json`` files of a run folder in time order, or ``[run]`` when it is such a file."""
    run = Path(run)
    if run.is_file():
        return [run]
    return sorted(run.glob("*/vis_data/scalars.json"), key=lambda p: p.parent.parent.name)


def _read_lines(path: Path) -> list[dict]:
    """The JSON objects of a file. A broken last line is skipped (a run killed while logging leaves one); a broken
    line before it means the file is not what mmengine writes, and is an error naming the file and line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise MmpxError(f"cannot read {path}: {exc}", "is it mmengine's vis_data/scalars.json?") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    rows = []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            if number == len(lines):  # the line a running training is writing
                continue
            raise MmpxError(
                f"{path}:{number}: not valid JSON ({getattr(exc, 'msg', 'nested too deeply')}): {line[:80]}",
                "scalars.json holds one JSON object a line; fix or delete that line",
            ) from exc
        if not isinstance(row, dict):
            raise MmpxError(
                f"{path}:{number}: expected a JSON object, got {type(row).__name__}: {line[:80]}",
                'scalars.json holds one JSON object a line, e.g. {"loss": 0.1, "epoch": 1, "iter": 5, "step": 5}',
            )
        if not isinstance(row.get("step", 0), (int, float)) or not isinstance(row.get("epoch", 0), (int, float)):
            raise MmpxError(f"{path}:{number}: 'step' and 'epoch' must be numbers: {line[:80]}",
                            "fix or delete that line")
        rows.append(row)
    return rows


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_scalars(run: str | Path) -> RunScalars:
    """Parse a run folder (all its timestamps, merged) or one ``scalars.json``."""
    train_rows: list[dict] = []
    val_rows: list[dict] = []
    files = scalars_files(run)
    for path in files:
        rows = _read_lines(path)
        train = [r for r in rows if ("iter" in r or "epoch" in r) and "step" in r]
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
    if by_epoch:  # the run's step s in epoch e satisfies (e-1)*L < s <= e*L; the epoch's last logged step bounds L
        bounds = [math.ceil(r["step"] / r["epoch"]) for r in train_rows if r["epoch"] > 0]
        out.iters_per_epoch = max(bounds, default=0) or None
    for row in train_rows:
        for key, value in row.items():
            if key in _POSITION or not _number(value):
                continue
            xs, ys = (out.train if "loss" in key else out.other).setdefault(key, ([], []))
            xs.append(row["step"])
            ys.append(value)
    for row in val_rows:
        for key, value in row.items():
            if key not in _NOT_METRICS and _number(value):
                xs, ys = out.val.setdefault(key, ([], []))
                xs.append(row["step"])
                ys.append(value)
    return out


def _matches(pattern: str, key: str) -> bool:
    # a pattern without '/' also matches the part after the last '/': 'AP' finds 'coco/AP' and 'humanart/AP'
    return fnmatchcase(key, pattern) or ("/" not in pattern and fnmatchcase(key.rsplit("/", 1)[-1], pattern))


def select_keys(scalars: RunScalars, patterns: list[str] | None, source: str | Path = "the run") -> list[str]:
    """The keys to plot: every loss and validation metric by default, else those matching any glob pattern.

    COCO reports -1 for "not applicable" (e.g. ``AP (L)`` with no large instances): such series are left out
    unless named exactly.

    Raises:
        MmpxError: a pattern matches no key (the message lists the keys there are).
    """
    def informative(key):
        series = scalars.val.get(key)
        return series is None or any(y != -1 for y in series[1])

    if not patterns:
        return [k for k in [*scalars.train, *scalars.val] if informative(k)]
    chosen: list[str] = []
    for pattern in patterns:
        found = [k for k in scalars.keys() if _matches(pattern, k)]
        if not found:
            raise MmpxError(
                f"key {pattern!r} matches nothing in {source}",
                "available keys: " + (", ".join(scalars.keys()) or "(none: the file has no scalars)"),
            )
        chosen += [k for k in found if k not in chosen and (k == pattern or informative(k))]
    return chosen


def _x_values(scalars: RunScalars, group: str, xs: list[float], x: str | None) -> tuple[list[float], str]:
    """Map a group's recorded x (training: iteration; validation: ``val_x``) to the requested axis."""
    native = scalars.val_x if group == "val" else "iteration"
    if x is None or (x == "iter" and native == "iteration") or (x == "epoch" and native == "epoch"):
        return xs, native
    ipe = scalars.iters_per_epoch
    if ipe is None:
        raise MmpxError(
            f"cannot plot against {x}: the run is iteration-based or has no training lines, so its scalars do not "
            "tell epochs and iterations apart",
            f"leave out --x (losses then use iterations, metrics {scalars.val_x}s)",
        )
    if x == "epoch":  # training step s -> fractional epoch s / L (epoch e ends at e)
        return [s / ipe for s in xs], "epoch"
    return [e * ipe for e in xs], "iteration"  # validation after epoch e -> iteration e * L


def _atomic_savefig(fig, path: Path) -> None:
    with atomic_open(path, "wb") as f:
        fig.savefig(f, format="png")


def _figure(panels: list[tuple[str, str, str, dict]], path: Path) -> Plot:
    """Draw panels ``(title, xlabel, ylabel, {label: (xs, ys)})`` stacked vertically into one PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # no pyplot: no global backend switch, safe inside a training process
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(8, 4.5 * len(panels) + 0.5), dpi=100)
    FigureCanvasAgg(fig)
    for i, (title, xlabel, ylabel, series) in enumerate(panels, 1):
        ax = fig.add_subplot(len(panels), 1, i)
        for key, (xs, ys) in series.items():
            ax.plot(xs, ys, marker="o" if len(xs) <= 50 else None, markersize=3, label=key)
        if xlabel == "epoch" and all(float(v).is_integer() for xs, _ in series.values() for v in xs):
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    _atomic_savefig(fig, path)
    return Plot(path, [(title, xlabel, list(series)) for title, xlabel, _, series in panels])


def plot_scalars(
    source: str | Path,
    out_dir: str | Path | None = None,
    out_file: str | Path | None = None,
    keys: list[str] | None = None,
    x: str | None = None,
) -> list[Plot]:
    """Plot a run folder (every ``<timestamp>/vis_data/scalars.json`` merged) or one ``scalars.json``.

    Args:
        source: run folder or ``scalars.json``.
        out_dir: folder for ``loss.png`` (losses), ``train.png`` (other training scalars, only when selected) and
            ``val.png`` (validation metrics); default the run folder (for a file: the folder holding it).
        out_file: instead, one PNG with a panel per group.
        keys: glob patterns (``loss*``, ``coco/*``, ``AP``); default every loss and validation metric.
        x: ``'iter'`` or ``'epoch'`` for one x axis throughout; default losses vs iteration, metrics vs epoch.

    Returns:
        The PNGs written (written atomically); a group with nothing selected is not drawn.

    Raises:
        MmpxError: no ``scalars.json`` found, a broken line, a pattern matching nothing, an impossible ``x``.
    """
    if x not in (None, "iter", "epoch"):
        raise MmpxError(f"x must be 'iter' or 'epoch', got {x!r}", "use --x iter or --x epoch")
    source = Path(source)
    if not source.exists():
        raise MmpxError(f"{source} does not exist", "give a run folder (--work-dir of mmpx train) or a scalars.json")
    scalars = read_scalars(source)
    if not scalars.sources:
        raise MmpxError(
            f"no scalars.json found: looked for {source}/*/vis_data/scalars.json",
            "give the run folder (the --work-dir of mmpx train) or the path of a scalars.json",
        )
    chosen = select_keys(scalars, keys, source)
    groups = [
        ("loss", "Training loss", "loss", scalars.train),
        ("train", "Training scalars", "value", scalars.other),
        ("val", "Validation metrics", "metric", scalars.val),
    ]
    panels = []
    for name, title, ylabel, data in groups:
        series, xlabel = {}, None
        for key in (k for k in chosen if k in data):
            xs, xlabel = _x_values(scalars, "val" if name == "val" else "train", data[key][0], x)
            series[key] = (xs, data[key][1])
        if series:
            panels.append((name, (f"{title}: {source.name}", xlabel, ylabel, series)))
    if not panels:
        raise MmpxError(f"nothing to plot in {source}: the selected keys have no values",
                        "available keys: " + (", ".join(scalars.keys()) or "(none)"))
    if out_file is not None:
        return [_figure([p for _, p in panels], Path(out_file))]
    folder = Path(out_dir) if out_dir is not None else (source.parent if source.is_file() else source)
    return [_figure([panel], folder / f"{name}.png") for name, panel in panels]


def plot_run(run_dir_or_scalars_json: str | Path, out_dir: str | Path | None = None, keys=None) -> list[Path]:
    """Write ``loss.png`` (every loss vs iteration) and ``val.png`` (every validation metric vs epoch).

    Args:
        run_dir_or_scalars_json: a run folder (``work_dir``; every ``<timestamp>/vis_data/scalars.json`` in it is
            merged) or one ``scalars.json``.
        out_dir: where the PNGs go; default the run folder (for a file: the folder holding it).
        keys: only these loss / metric keys or glob patterns (default all losses and metrics).

    Returns:
        The PNGs written; a plot with no data (e.g. no validation yet) is not written.
    """
    return [p.path for p in plot_scalars(run_dir_or_scalars_json, out_dir=out_dir, keys=keys)]


__all__ = ["Plot", "RunScalars", "plot_run", "plot_scalars", "read_scalars", "scalars_files", "select_keys"]
