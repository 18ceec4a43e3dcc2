"""``ReportHook``: keep each validation's and test's predictions as COCO results, and write ``report.html`` at the
end of the run.

Use it from a config (``mmpx train`` and ``mmpx test`` add it)::

    custom_hooks = [dict(type='ReportHook')]

After every validation (and a test) it writes ``work_dir/predictions/{val,test}_results.json`` (what
``mmpx eval`` reads) and its ``.meta.json`` (:mod:`mmpx.report.predictions`); at the end of the run
``work_dir/report.html`` (:func:`mmpx.report.build_report`). Predictions are gathered from every rank; rank 0
writes. A failure is logged as a warning and never fails the run.
"""

from __future__ import annotations

import os.path as osp
from pathlib import Path

import numpy as np
from mmengine.dist import collect_results, is_main_process
from mmengine.hooks import Hook

from mmpose_ext.registry import HOOKS

_LAST: list[Path] = []  # the reports written in this process, for the command to print


def last_report() -> Path | None:
    """The report the last ``ReportHook`` of this process wrote, or None."""
    return _LAST[-1] if _LAST else None


def add_report_hook(hooks: list | None) -> list:
    """``hooks`` (a config's ``custom_hooks``) with a ``ReportHook`` unless one is there."""
    hooks = list(hooks or [])
    if not any(h.get("type") == "ReportHook" for h in hooks):
        hooks.append(dict(type="ReportHook", _scope_="mmpose"))
    return hooks


def _array(value) -> np.ndarray:
    return np.asarray(value.detach().cpu() if hasattr(value, "detach") else value)


class _NoKeypoints(Exception):
    """The model predicts no keypoints (a detector): nothing to keep, nothing to warn about."""


def _sample(sample, index: int) -> dict:
    """What :func:`~mmpose_ext.evaluation.metrics.keypoint_breakdown.coco_results` needs, as CocoMetric keeps it."""
    pred = sample.pred_instances
    if "keypoints" not in pred:
        raise _NoKeypoints
    kpts = _array(pred.keypoints)
    gt = getattr(sample, "gt_instances", None)
    if "bbox_scores" in pred:
        box_scores = _array(pred.bbox_scores)
    elif gt is not None and "bbox_scores" in gt and len(gt.bbox_scores) == len(kpts):
        box_scores = _array(gt.bbox_scores)
    else:
        box_scores = np.ones(len(kpts))
    category = sample.metainfo.get("category_id", 1)
    return dict(id=sample.metainfo.get("id", index), img_id=sample.metainfo["img_id"], keypoints=kpts,
                keypoint_scores=_array(pred.keypoint_scores), bbox_scores=box_scores,
                category_id=int(np.asarray(category).reshape(-1)[0]))


def _meta(dataset, metrics: dict | None) -> dict | None:
    """The predictions' meta file content, or None when the set is not one COCO-style file (no report)."""
    ann_file = getattr(dataset, "ann_file", None)
    if not ann_file or not str(ann_file).endswith(".json") or not osp.isfile(ann_file):
        return None
    info = dataset.metainfo
    names = [info["keypoint_id2name"][i] for i in range(info["num_keypoints"])]
    img = (getattr(dataset, "data_prefix", None) or {}).get("img")
    return dict(gt=osp.abspath(ann_file), images=osp.abspath(img) if img else None, keypoints=names,
                sigmas=[float(s) for s in info.get("sigmas", [0.025] * len(names))],
                flip_indices=[int(i) for i in info.get("flip_indices") or range(len(names))],
                skeleton=[[int(a), int(b)] for a, b in info.get("skeleton_links") or []],
                dataset=info.get("dataset_name"),
                metrics={k: float(v) for k, v in (metrics or {}).items() if np.ndim(v) == 0})


@HOOKS.register_module()
class ReportHook(Hook):
    """Write the predictions of each validation and test, and ``report.html`` after the run.

    Args:
        report: the report's file name in ``work_dir`` (None: predictions only).
    """

    priority = "LOWEST"  # after PlotHook (its loss.png and val.png go into the report)

    def __init__(self, report: str | None = "report.html"):
        self.report = report
        self._samples: list = []
        self._failed: str | None = None  # why this evaluation's predictions are not kept ("": not keypoints)

    def before_val_epoch(self, runner) -> None:
        self._samples, self._failed = [], None

    def before_test_epoch(self, runner) -> None:
        self._samples, self._failed = [], None

    def after_val_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._keep(outputs)

    def after_test_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self._keep(outputs)

    def _keep(self, outputs) -> None:
        if self._failed is not None:
            return
        try:
            start = len(self._samples)
            self._samples += [_sample(s, start + i) for i, s in enumerate(outputs or [])]
        except _NoKeypoints:
            self._failed = ""
        except Exception as exc:  # outputs of a shape not foreseen: a warning, never a failed run
            self._failed = f"{type(exc).__name__}: {exc}"

    def after_val_epoch(self, runner, metrics=None) -> None:
        self._write(runner, "val", runner.val_loop.dataloader.dataset, metrics)

    def after_test_epoch(self, runner, metrics=None) -> None:
        self._write(runner, "test", runner.test_loop.dataloader.dataset, metrics)

    def _write(self, runner, split: str, dataset, metrics) -> None:
        samples = collect_results(self._samples, len(dataset), "cpu")  # every rank takes part
        self._samples = []
        if not is_main_process():
            return
        if self._failed is not None:
            if self._failed:
                runner.logger.warning(f"ReportHook: could not keep the {split} predictions: {self._failed}")
            return
        from mmpose_ext.evaluation.metrics.keypoint_breakdown import coco_results
        from mmpx.report.predictions import write_predictions

        try:
            meta = _meta(dataset, metrics)
            if meta is None:
                runner.logger.info(f"ReportHook: the {split} set is not one COCO-style file: predictions not kept")
                return
            meta.update(epoch=runner.epoch, iter=runner.iter,
                        checkpoint=runner.cfg.get("load_from") if split == "test" else None)
            write_predictions(runner.work_dir, split, coco_results(samples, 0.2), meta)
        except Exception as exc:  # a convenience: never fail a run over it
            runner.logger.warning(f"ReportHook: could not write the {split} predictions: {type(exc).__name__}: {exc}")

    def after_run(self, runner) -> None:
        if not is_main_process() or not self.report:
            return
        from mmpx.report import build_report

        out = Path(runner.work_dir) / self.report
        try:
            build_report(runner.work_dir, out)
        except Exception as exc:  # as PlotHook: a finished run never fails over its report
            runner.logger.warning(f"ReportHook: could not write {out}: {type(exc).__name__}: {exc}")
            return
        _LAST.append(out)
        runner.logger.info(f"ReportHook: wrote {out}")
