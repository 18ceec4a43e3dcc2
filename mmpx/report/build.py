"""Build the report of a run (``mmpx report``, ``mmpx train``/``test``/``quickstart`` at the end) or of a
predictions file from any tool (``mmpx eval GT PRED --report``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import MmpxError
from mmpx.report import sections
from mmpx.report.charts import overlaid_curves, run_curves
from mmpx.report.classes import class_rows, eval_class_rows
from mmpx.report.page import render
from mmpx.report.predictions import spec_for
from mmpx.report.run_config import summary
from mmpx.report.scoring import Scored, score
from mmpx.report.sources import Run, data_counts, load_run

WORST = 48  # cases shown without a filter


@dataclass
class Report:
    """What was written: the page, how long it took, how many cases its gallery holds."""

    path: Path
    seconds: float
    cases: int
    notes: list[str]


def _score(run: Run, by, pck_thr: float, pck_norm: str) -> Scored | None:
    """The run's predictions scored, or None (with a note) when it has none or they cannot be scored (a
    ground-truth file moved away): the rest of the page is still worth having."""
    p = run.predictions
    if p is None:
        return None
    try:
        return score(p.gt, p.results, p.spec, by, pck_thr, pck_norm, source=str(p.path))
    except MmpxError as exc:
        run.notes.append(f"{run.name}: predictions left out: {exc}")
        run.predictions = None
        return None


def _data(run: Run) -> list[dict]:
    """Data counts of the run's training set (from its config) and of the predicted set."""
    out = []
    train = next((v for k, v in summary(run.settings) if k == "train annotations"), None)
    if train and Path(train).is_file() and (counts := data_counts(Path(train))):
        out.append(dict(counts, split="train"))
    if run.predictions is not None and (counts := data_counts(run.predictions.gt)):
        out.append(dict(counts, split=run.predictions.split))
    return out


def _labels(run: Run, base: Run) -> tuple[str, str]:
    a, b = base.name, run.name
    return ("baseline", "this run") if a == b else (a, b)


def build_report(run_dir: str | Path, out: str | Path | None = None, compare: str | Path | None = None,
                 predictions: str | Path | None = None, by: str | list[str] | None = None, worst: int = WORST,
                 pck_thr: float = 0.05, pck_norm: str = "bbox") -> Report:
    """Write one self-contained HTML page about a run.

    Args:
        run_dir: the run folder (``--work-dir`` of ``mmpx train``/``test``), or a quickstart work dir.
        out: the page; default ``run_dir/report.html``.
        compare: another run folder to put beside it (the baseline: deltas are this run minus that one).
        predictions: the results file to show (with its ``.meta.json``); default the run's newest.
        by: image field(s) to group by; default Human-Art's group and scenario where the images tell them.
        worst: how many of the worst cases the gallery shows without a filter.

    Raises:
        MmpxError: not a run folder, unreadable files, predictions ``mmpx eval`` refuses.
    """
    start = time.perf_counter()
    run = load_run(run_dir, predictions)
    base = load_run(compare) if compare is not None else None
    out = Path(out) if out is not None else Path(run_dir) / "report.html"
    had_predictions = run.predictions is not None
    scored = _score(run, by, pck_thr, pck_norm)
    base_scored = _score(base, by, pck_thr, pck_norm) if base is not None else None
    notes = [*run.notes, *(base.notes if base is not None else [])]
    labels = _labels(run, base) if base is not None else ("baseline", "this run")
    context = dict(
        title=f"Run {run.name}" + (f" compared with {base.name}" if base is not None else ""),
        source=str(Path(run_dir).resolve()), labels=labels, compare=base is not None,
        settings=summary(run.settings), config_name=run.config.name if run.config else None,
        config_text=run.config.read_text(encoding="utf-8", errors="replace") if run.config else None,
        data=_data(run), metrics_source=run.metrics_source,
        base_metrics_source=base.metrics_source if base is not None else None,
        metrics=sections.metric_rows(run.metrics, base.metrics if base is not None else None),
        classes=class_rows(run.metrics, base.metrics if base is not None else None),
        predictions=run.predictions.describe() if run.predictions else None, notes=notes,
    )
    if base is not None and run.scalars is not None and base.scalars is not None:
        context["curves"] = overlaid_curves(base.scalars, run.scalars, labels)
    else:
        context["curves"] = run_curves(run.folder, run.scalars)
    if scored is not None:
        images = run.predictions.images
        context["keypoints"] = sections.keypoint_section(scored, base_scored, labels)
        context["gallery"] = sections.gallery(scored, images, worst)
        if base_scored is not None:
            context["changes"] = sections.changes(scored, base_scored, images, base.predictions.images)
    elif not had_predictions:
        context["notes"].append("no predictions in this run folder: the gallery and per-keypoint tables need the "
                                "predictions that mmpx train (with validation) or mmpx test write in predictions/")
    return _write(out, context, start)


def build_eval_report(gt: str | Path, pred: str | Path, out: str | Path, metainfo: str | Path | dict | None = None,
                      images: str | Path | None = None, by: str | list[str] | None = None, worst: int = WORST,
                      pck_thr: float = 0.05, pck_norm: str = "bbox") -> Report:
    """The report's prediction sections for COCO keypoint results from any tool (``mmpx eval --report``).

    Args:
        images: the folder the GT's ``file_name`` is relative to; default ``images/`` beside or above the GT's
            folder (``mmpx convert``'s layout), else the gallery shows no pictures.
    """
    from mmpx.evaluation.api import _read_json
    from mmpx.evaluation.rekey import rekey_by_file_name
    from mmpx.metainfo import load_metainfo

    start = time.perf_counter()
    gt, pred = Path(gt), Path(pred)
    if metainfo is not None and not isinstance(metainfo, dict):
        metainfo = load_metainfo(metainfo)
    gt_data = _read_json(gt, "ground-truth")
    spec = spec_for(metainfo, gt_data)
    results, _ = rekey_by_file_name(_read_json(pred, "prediction"), gt_data, str(pred))  # as mmpx eval does
    scored = score(gt, results, spec, by, pck_thr, pck_norm, source=str(pred))
    folder = Path(images) if images is not None else next(
        (p for p in (gt.parent.parent / "images", gt.parent / "images") if p.is_dir()), None)
    if images is not None and not folder.is_dir():
        raise MmpxError(f"--images {folder} is not a folder", "give the folder the GT's file_name values are in")
    notes = [] if folder is not None else ["no image folder found (--images): the gallery shows no pictures"]
    context = dict(
        title=f"Predictions {pred.name}", source=f"{pred.resolve()} against {gt.resolve()}",
        labels=("baseline", "this run"), compare=False, settings=[], config_name=None, config_text=None,
        data=[dict(data_counts(gt) or {}, split="evaluated")], metrics_source=f"mmpx eval {gt.name} {pred.name}",
        metrics=sections.metric_rows(scored.result["metrics"]), classes=eval_class_rows(scored.result), curves=[],
        notes=notes,
        predictions=f"{len(results)} predictions in {pred.name} on {gt.name}",
        keypoints=sections.keypoint_section(scored), gallery=sections.gallery(scored, folder, worst),
    )
    return _write(Path(out), context, start)


def _write(out: Path, context: dict, start: float) -> Report:
    from mmpx.atomic import write_text

    context["built"] = time.strftime("%Y-%m-%d %H:%M")
    write_text(out, render(context))
    cases = len(context["gallery"]["cases"]) if context.get("gallery") else 0
    return Report(out, round(time.perf_counter() - start, 3), cases, context["notes"])
