"""The quickstart: synthetic cars -> labelme -> COCO -> checks -> train on CPU -> test -> plots -> drawn predictions.

Every stage is the same code the commands run (``mmpx data synth carpose``, ``mmpx convert labelme``,
``mmpx check data``, ``mmpx train``, ``mmpx test``), so the quickstart doubles as an end-to-end check of a
machine. The work dir holds everything it made::

    WORK/labelme/            synthetic images + labelme JSON (what a user would label by hand)
    WORK/data/               the converted dataset (annotations/train.json, val.json, images/, metainfo.py)
    WORK/config.py           the config trained (data_root pointing at WORK/data)
    WORK/train/              the run: logs, scalars, checkpoints, loss.png, val.png
    WORK/predictions/        a few validation images with predicted keypoints, and contact_sheet.jpg
    WORK/metrics.json        the test metrics; WORK/quickstart.json: the report (stages, times, paths)
    WORK/report.html         the run in one page: curves, metrics, per-keypoint tables, the worst validation cases
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError


def _library_dir() -> Path:
    """mmpose_ext's folder, found without importing it (that costs torch + mmpose)."""
    spec = importlib.util.find_spec("mmpose_ext")
    if spec is None or not spec.submodule_search_locations:
        raise MmpxError("mmpose_ext is not installed", "run `make setup` (scripts/setup.sh)")
    return Path(next(iter(spec.submodule_search_locations)))


CONFIG = _library_dir() / "configs" / "carpose_quickstart.py"  # installed with the library
MARKER = "quickstart.json"
SHOWN = 8  # validation images drawn


@dataclass
class QuickstartReport:
    """What a quickstart run made and measured (also written to ``WORK/quickstart.json``)."""

    work_dir: str
    metrics: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    training: dict = field(default_factory=dict)  # iterations, median s/iter: how fast this machine trains


def _prepare_work_dir(work_dir: Path) -> None:
    """Use ``work_dir`` if it is new, empty or an earlier quickstart's (replaced); refuse anything else."""
    if work_dir.exists() and not work_dir.is_dir():
        raise MmpxError(f"--work-dir {work_dir} is a file", "give a folder path")
    if work_dir.is_dir() and any(work_dir.iterdir()):
        if not (work_dir / MARKER).is_file():
            raise MmpxError(f"--work-dir {work_dir} is not empty and is not an earlier quickstart's folder "
                            f"(no {MARKER} in it); nothing was changed",
                            "pick a new folder, e.g. --work-dir work_dirs/quickstart2")
        shutil.rmtree(work_dir)  # ours from an earlier run: start clean so no old checkpoint is mixed in
    work_dir.mkdir(parents=True, exist_ok=True)
    (work_dir / MARKER).write_text('{"status": "running"}\n')  # a failed run's folder is still ours to replace


def write_config(work_dir: Path, data_root: Path, epochs: int | None = None) -> Path:
    """``WORK/config.py``: the packaged quickstart config with ``data_root`` (and epochs) filled in."""
    lines = [f"_base_ = [{str(CONFIG)!r}]", f"data_root = {str(data_root) + os.sep!r}"]
    lines += [
        "train_dataloader = dict(dataset=dict(data_root=data_root))",
        "val_dataloader = dict(dataset=dict(data_root=data_root))",
        "test_dataloader = val_dataloader",
        "val_evaluator = [dict(type='PCKAccuracy', thr=0.05, norm_item='bbox'),",
        "                 dict(type='CocoMetric', ann_file=data_root + 'annotations/val.json')]",
        "test_evaluator = val_evaluator",
    ]
    if epochs is not None:
        lines += [f"max_epochs = {epochs}",
                  "train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)",
                  "param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=20),",
                  "                   dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-5, by_epoch=True,",
                  "                        begin=0, end=max_epochs, convert_to_iter_based=True)]"]
    path = work_dir / "config.py"
    path.write_text("# written by mmpx quickstart\n" + "\n".join(lines) + "\n")
    return path


def _check(data: Path) -> dict:
    from mmpx.check import check_data_report

    out = {}
    for split in ("train", "val"):
        report = check_data_report(data / "annotations" / f"{split}.json", data / "images", data / "metainfo.py")
        if report.errors:
            first = next(p for p in report.problems if p.severity == "error")
            raise MmpxError(f"the converted {split} set has {report.errors} error(s): {first.where}: {first.message}",
                            f"run mmpx check data {report.file} --images {data / 'images'} for the list")
        out[split] = dict(images=report.images, instances=report.annotations, keypoints=report.keypoints,
                          warnings=report.warnings)
    return out


def draw_predictions(config: Path, checkpoint: Path, data: Path, out: Path, n: int = SHOWN,
                     device: str = "cpu") -> list[Path]:
    """Predict keypoints on the first ``n`` validation images (ground-truth boxes) and draw them."""
    import cv2
    import numpy as np
    from mmpose.apis import inference_topdown, init_model

    from mmpx.visual.draw import contact_sheet, draw_pose

    model = init_model(str(config), str(checkpoint), device=device)
    ann = json.loads((data / "annotations" / "val.json").read_text())
    boxes: dict[int, list] = {}
    for a in ann["annotations"]:
        x, y, w, h = a["bbox"]
        boxes.setdefault(a["image_id"], []).append([x, y, x + w, y + h])
    out.mkdir(parents=True, exist_ok=True)
    paths, drawn = [], []
    for image in [i for i in ann["images"] if i["id"] in boxes][:n]:
        path = data / "images" / image["file_name"]
        img = cv2.imread(str(path))
        bboxes = np.array(boxes[image["id"]], np.float32)
        samples = inference_topdown(model, img, bboxes)
        kpts = np.concatenate([s.pred_instances.keypoints for s in samples])
        scores = np.concatenate([s.pred_instances.keypoint_scores for s in samples])
        canvas = draw_pose(img, kpts, scores, model.dataset_meta, bboxes=bboxes, kpt_thr=0.0, radius=2,
                           thickness=1, draw_bbox=True)
        target = out / Path(image["file_name"]).with_suffix(".jpg").name
        cv2.imwrite(str(target), canvas)
        paths.append(target)
        drawn.append(canvas)
    sheet = out / "contact_sheet.jpg"
    cv2.imwrite(str(sheet), contact_sheet(drawn, cols=4, cell=256, labels=[p.stem for p in paths]))
    return [*paths, sheet]


def stop_loader_workers(runner) -> None:
    """End the training and validation loaders' persistent workers now that training is over.

    Left to garbage collection, torch joined each one with its 5 s timeout (10 s here, measured); a process that
    exits (``mmpx train``) does not pay this, the quickstart goes on to test and would.
    """
    for loop in (runner.train_loop, getattr(runner, "_val_loop", None)):
        iterator = getattr(getattr(loop, "dataloader", None), "_iterator", None)
        workers = getattr(iterator, "_workers", None) or []
        for worker in workers:
            worker.terminate()
        if workers:
            iterator._shutdown_workers()


def iteration_times(runner) -> dict:
    """Iterations run and the median seconds per training iteration (mmengine's IterTimerHook records them):
    the figure that tells a slower machine from a slower quickstart."""
    import statistics

    out: dict = dict(iterations=int(runner.iter))
    for key, name in (("train/time", "seconds_per_iter"), ("train/data_time", "data_seconds_per_iter")):
        try:
            values = runner.message_hub.get_scalar(key).data[0]
        except KeyError:
            continue
        if len(values):
            out[name] = round(float(statistics.median(values.tolist())), 4)
    return out


def best_checkpoint(run_dir: Path) -> Path:
    """The run's best checkpoint by validation PCK (``save_best``), else its last one."""
    best = sorted(run_dir.glob("best_PCK_epoch_*.pth"), key=lambda p: p.stat().st_mtime)
    return best[-1] if best else Path((run_dir / "last_checkpoint").read_text().strip())


def write_report(work: Path, log: Callable[[str], None]) -> Path | None:
    """``WORK/report.html`` (``mmpx report WORK``): the training run with the test's predictions and metrics. A
    failure is logged, not raised: the model and the metrics are made by then."""
    from mmpx.report import build_report

    try:
        result = build_report(work, work / "report.html")
    except Exception as exc:
        log(f"[report] could not write {work / 'report.html'}: {type(exc).__name__}: {exc}")
        return None
    log(f"[report] {result.path} ({result.cases} cases, {result.seconds:.1f} s)")
    return result.path


def run_quickstart(work_dir: str | Path = "work_dirs/quickstart", images: int = 1000, epochs: int | None = None,
                   seed: int = 0, device: str | None = None,
                   log: Callable[[str], None] = print) -> QuickstartReport:
    """Run every stage; returns the report. ``epochs`` overrides the config's (the target needs the default).

    Raises:
        MmpxError: a work dir that is not ours, or a stage that fails with a fixable cause.
    """
    from mmpx.convert.labelme import convert_labelme
    from mmpx.synth.carpose import synth_carpose

    work = Path(work_dir).resolve()
    _prepare_work_dir(work)
    report = QuickstartReport(str(work))
    t0 = time.perf_counter()

    def stage(name: str, started: float) -> float:
        now = time.perf_counter()
        report.seconds[name] = round(now - started, 2)
        log(f"[{name}] {report.seconds[name]:.1f} s")
        return now

    log(f"[synth] {images} synthetic car images -> {work / 'labelme'}")
    summary = synth_carpose(work / "labelme", n=images, seed=seed, size=128, max_cars=1, occlusion=0.0)
    t = stage("synth", t0)
    metainfo = _library_dir() / "datasets" / "metainfo" / "carpose.py"  # installed with the library
    convert_labelme(work / "labelme", work / "data", metainfo=metainfo, category="car", seed=seed, workers=0)
    t = stage("convert", t)
    report.data = dict(images=summary.images, cars=summary.cars, keypoints=summary.points,
                       occluded=summary.occluded, **_check(work / "data"))
    t = stage("check", t)

    from mmpose_ext.apis.run import test, train

    config = write_config(work, work / "data", epochs)
    runner = train(config, work_dir=work / "train", seed=seed, device=device)
    report.training = iteration_times(runner)
    stop_loader_workers(runner)
    del runner
    checkpoint = best_checkpoint(work / "train")
    t = stage("train", t)
    if report.training.get("seconds_per_iter"):
        log(f"[train] {report.training['iterations']} iterations, median {report.training['seconds_per_iter']:.3f} "
            f"s/iter (data loading {report.training.get('data_seconds_per_iter', 0):.3f})")
    metrics = test(config, checkpoint, work_dir=work / "test", device=device)
    report.metrics = {k: round(float(v), 4) for k, v in metrics.items()}
    (work / "metrics.json").write_text(json.dumps(report.metrics, indent=2) + "\n")
    t = stage("test", t)
    drawn = draw_predictions(config, checkpoint, work / "data", work / "predictions", device=device or "cpu")
    t = stage("draw", t)
    page = write_report(work, log)
    stage("report", t)
    report.seconds["total"] = round(time.perf_counter() - t0, 2)
    report.paths = dict(
        config=str(config), checkpoint=str(checkpoint), metrics=str(work / "metrics.json"),
        loss_plot=str(work / "train" / "loss.png"), val_plot=str(work / "train" / "val.png"),
        predictions=str(work / "predictions"), contact_sheet=str(drawn[-1]), data=str(work / "data"),
        **({"report": str(page)} if page else {}),
    )
    (work / MARKER).write_text(json.dumps(asdict(report), indent=2) + "\n")
    return report
