"""The report's charts as PNG data URIs, drawn with matplotlib's Agg canvas (no pyplot, no display): per-keypoint
bars and, for a comparison, two runs' curves overlaid. A run's own ``loss.png``/``val.png`` are used as they are.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from pathlib import Path

from mmpx.evaluation.plots import RunScalars, select_keys

A_STYLE, B_STYLE = "--", "-"  # the baseline dashed, the run solid


def png_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def file_uri(path: Path) -> str:
    return png_uri(Path(path).read_bytes())


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return png_uri(buf.getvalue())


def _value(v) -> float:
    return math.nan if v is None else float(v)


def keypoint_bars(names: Sequence[str], rows: Sequence[dict], baseline: Sequence[dict] | None = None,
                  labels: tuple[str, str] = ("baseline", "this run")) -> str:
    """PCK, EPE and OKS AP per keypoint, one panel each (``rows``: ``mmpx eval``'s ``keypoints`` list).

    With ``baseline`` (rows of the same keypoints) each keypoint gets two bars.
    """
    columns = [c for c in ("PCK", "EPE", "OKS AP") if rows and c in rows[0]]
    fig = _figure(3.2 * max(1, len(columns)) + 1.0, 0.32 * len(names) + 1.4)
    y = list(range(len(names)))
    for j, col in enumerate(columns, 1):
        ax = fig.add_subplot(1, len(columns), j)
        values = [_value(r.get(col)) for r in rows]
        if baseline is not None:
            ax.barh([v + 0.2 for v in y], [_value(r.get(col)) for r in baseline], height=0.4, color="#bbbbbb",
                    label=labels[0])
            ax.barh([v - 0.2 for v in y], values, height=0.4, color="#3366aa", label=labels[1])
            if j == 1:
                ax.legend(fontsize="small", loc="lower right")
        else:
            ax.barh(y, values, color="#3366aa")
        ax.set_yticks(y)
        ax.set_yticklabels(names if j == 1 else [""] * len(names), fontsize="small")
        ax.invert_yaxis()
        ax.set_title(col + (" (px, lower is better)" if col == "EPE" else ""), fontsize="medium")
        if col != "EPE":
            ax.set_xlim(0, 1)
        ax.grid(True, axis="x", alpha=0.3)
    return _save(fig)


def overlaid_curves(a: RunScalars, b: RunScalars, labels: tuple[str, str]) -> list[tuple[str, str, list[str]]]:
    """Two runs' losses and validation metrics on common axes: [(title, data URI, series drawn)]."""
    out = []
    for group, title in (("train", "Training loss"), ("val", "Validation metrics")):
        keys = [k for k in select_keys(b, None) if k in getattr(b, group)]
        keys += [k for k in select_keys(a, None) if k in getattr(a, group) and k not in keys]
        if not keys:
            continue
        fig = _figure(8, 4.5)
        ax = fig.add_subplot(1, 1, 1)
        colors = {}
        for scalars, style, label in ((b, B_STYLE, labels[1]), (a, A_STYLE, labels[0])):
            for key in keys:
                if key in getattr(scalars, group):
                    xs, ys = getattr(scalars, group)[key]
                    line = ax.plot(xs, ys, style, color=colors.get(key), label=f"{key} ({label})",
                                   marker="o" if len(xs) <= 50 else None, markersize=3)[0]
                    colors.setdefault(key, line.get_color())
        ax.set_title(f"{title}: {labels[1]} (solid) and {labels[0]} (dashed)", fontsize="medium")
        ax.set_xlabel("iteration" if group == "train" else b.val_x)
        if group == "val" and b.val_x == "epoch":
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="x-small", loc="best")
        out.append((title, _save(fig), keys))
    return out


def run_curves(run_dir: Path, scalars: RunScalars | None) -> list[tuple[str, str, list[str]]]:
    """A run's curves: its own ``loss.png`` and ``val.png`` (PlotHook's), drawn anew where one is missing."""
    out = []
    missing = False
    for name, title, group in (("loss.png", "Training loss", "train"), ("val.png", "Validation metrics", "val")):
        keys = [k for k in select_keys(scalars, None) if k in getattr(scalars, group)] if scalars else []
        if (run_dir / name).is_file():
            out.append((title, file_uri(run_dir / name), keys))
        elif keys:
            missing = True
    if missing:
        import tempfile

        from mmpx.evaluation.plots import plot_scalars

        with tempfile.TemporaryDirectory() as tmp:
            drawn = {p.path.name: p for p in plot_scalars(run_dir, out_dir=tmp)}
            out = [(title, file_uri(drawn[name].path), drawn[name].series)
                   for name, title in (("loss.png", "Training loss"), ("val.png", "Validation metrics"))
                   if name in drawn]
    return out
