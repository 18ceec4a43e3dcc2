"""Find what a run folder holds for its report: the config mmengine copied there, the scalars, the plots, the
predictions (:mod:`mmpx.report.predictions`) and the metrics.

A quickstart work dir (``quickstart.json`` in it) is read as its parts: the run in ``train/``, the predictions of
``mmpx test`` in ``test/`` and the test metrics in ``metrics.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError
from mmpx.evaluation.plots import RunScalars, read_scalars
from mmpx.report.predictions import Predictions, find_predictions, read_predictions
from mmpx.report.run_config import read_config


@dataclass
class Run:
    """One run's material; every part may be missing (a run stopped early, a run without validation)."""

    name: str
    folder: Path
    config: Path | None = None
    settings: dict = field(default_factory=dict)  # the config's literal values
    scalars: RunScalars | None = None
    predictions: Predictions | None = None
    metrics: dict = field(default_factory=dict)
    metrics_source: str = ""
    notes: list[str] = field(default_factory=list)


def _config_file(folder: Path) -> Path | None:
    """The config mmengine copied into the run folder (the newest ``*.py`` there)."""
    found = sorted(folder.glob("*.py"), key=lambda p: p.stat().st_mtime_ns)
    return found[-1] if found else None


def last_validation(scalars: RunScalars | None) -> tuple[dict, float | None]:
    """The metrics of the last validation in ``scalars`` and its epoch (or iteration)."""
    if scalars is None or not scalars.val:
        return {}, None
    step = max(xs[-1] for xs, _ in scalars.val.values())
    return {k: ys[-1] for k, (xs, ys) in scalars.val.items() if xs[-1] == step}, step


def _metrics_file(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MmpxError(f"cannot read metrics {path}: {exc}", "rerun mmpx test --out to write it again") from None
    return {k: float(v) for k, v in data.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def load_run(path: str | Path, predictions: str | Path | None = None) -> Run:
    """Read a run folder (or a quickstart work dir).

    Args:
        path: the ``--work-dir`` of ``mmpx train``/``mmpx test``, or of ``mmpx quickstart``.
        predictions: a results file with its ``.meta.json``; default the newest in ``predictions/``.

    Raises:
        MmpxError: ``path`` is not a folder, or holds no run at all (no config, scalars or predictions).
    """
    path = Path(path)
    if not path.is_dir():
        raise MmpxError(f"{path} is not a folder", "give a run folder: the --work-dir of mmpx train or mmpx test")
    quickstart = (path / "quickstart.json").is_file() and (path / "train").is_dir()
    folder = path / "train" if quickstart else path
    run = Run(name=path.resolve().name, folder=folder, config=_config_file(folder))
    if run.config is not None:
        run.settings = read_config(run.config)
    try:
        run.scalars = read_scalars(folder)
    except MmpxError as exc:
        run.notes.append(f"training curves left out: {exc.message}")
    if run.scalars is not None and not run.scalars.sources:
        run.scalars = None
    found = Path(predictions) if predictions else find_predictions(path / "test" if quickstart else folder)
    if found is None and quickstart:
        found = find_predictions(folder)
    if found is not None:
        run.predictions = read_predictions(found)
    if run.config is None and run.scalars is None and run.predictions is None:
        raise MmpxError(f"{path} holds no run: no config, no */vis_data/scalars.json, no predictions/",
                        "give the --work-dir of mmpx train or mmpx test")
    _pick_metrics(run, path if quickstart else None)
    return run


def _pick_metrics(run: Run, quickstart: Path | None) -> None:
    """The run's final metrics: the quickstart's test metrics, else those logged with the predictions, else the
    last validation in ``scalars.json``."""
    if quickstart is not None and (quickstart / "metrics.json").is_file():
        run.metrics = _metrics_file(quickstart / "metrics.json")
        run.metrics_source = f"mmpx test of the best checkpoint ({quickstart.name}/metrics.json)"
    elif run.predictions is not None and run.predictions.metrics:
        run.metrics = dict(run.predictions.metrics)
        run.metrics_source = f"the metrics the run logged with the predictions below ({run.predictions.describe()})"
    else:
        run.metrics, step = last_validation(run.scalars)
        if run.metrics:
            what = "epoch" if run.scalars.val_x == "epoch" else "iteration"
            run.metrics_source = f"the last validation ({what} {step:g}) in scalars.json"


def data_counts(gt_path: Path) -> dict | None:
    """Images, instances (annotations with a labelled keypoint) and labelled keypoints of a COCO file."""
    try:
        gt = json.loads(Path(gt_path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(gt, dict):
        return None
    instances = keypoints = 0
    for ann in gt.get("annotations") or []:
        vis = (ann.get("keypoints") or [])[2::3]
        labelled = sum(1 for v in vis if isinstance(v, (int, float)) and v > 0)
        instances += labelled > 0
        keypoints += labelled
    return dict(file=str(gt_path), images=len(gt.get("images") or []), instances=instances, keypoints=keypoints)
