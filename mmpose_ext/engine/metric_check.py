"""``MetricCheckHook``: an evaluator metric that computes nothing stops the run at the first validation or test.

Without it the run goes on silently: best-checkpoint saving is skipped, ``val.png`` is not drawn and
``mmpx test --out`` writes ``{}`` with exit status 0. The classic case is ``MpiiPCKAccuracy(norm_item='bbox')``:
it computes PCKh only, so without ``'head'`` in ``norm_item`` it returns nothing. ``mmpx train`` and
``mmpx test`` add the hook.
"""

from __future__ import annotations

from mmengine.hooks import Hook

from mmpose_ext.registry import HOOKS
from mmpx.errors import ConfigError

# metrics that return nothing on purpose: they write files
SILENT = ("DumpResults",)


def _describe(metric) -> str:
    name = type(metric).__name__
    norm = getattr(metric, "norm_item", None)
    if isinstance(norm, (list, tuple)) and len(norm) == 1:  # MMPose keeps norm_item='bbox' as ['bbox']
        norm = norm[0]
    return f"{name}(norm_item={norm!r})" if norm is not None else name


def _instead(metric) -> str:
    if type(metric).__name__ == "MpiiPCKAccuracy":
        return ("MpiiPCKAccuracy computes PCKh only (norm_item='head', which needs headbox_file on the dataset); "
                "to score without head boxes use dict(type='PCKAccuracy', norm_item='bbox')")
    return "check its options, or use another metric (PCKAccuracy, CocoMetric, ...)"


def _watch(evaluator) -> None:
    """Wrap each metric's ``evaluate`` to remember how many values it returned (once per metric)."""
    for metric in evaluator.metrics:
        if hasattr(metric, "_mmpx_returned") or type(metric).__name__ in SILENT:
            continue
        original = metric.evaluate

        def evaluate(size, _metric=metric, _original=original):
            result = _original(size)
            _metric._mmpx_returned = len(result or {})
            return result

        metric._mmpx_returned = None
        metric.evaluate = evaluate


def _check(evaluator, key: str, runner) -> None:
    source = f" of {runner.cfg.filename}" if getattr(runner.cfg, "filename", None) else ""
    training = key == "val_evaluator"
    for metric in evaluator.metrics:
        if getattr(metric, "_mmpx_returned", None) == 0:
            lost = "report, plot or keep the best checkpoint by" if training else "report"
            after = " (the checkpoints so far are saved: fix it, then mmpx train --resume)" if training else ""
            raise ConfigError(f"{key}{source}: {_describe(metric)} computed no metric, so there is nothing to {lost}",
                              _instead(metric) + after)


@HOOKS.register_module()
class MetricCheckHook(Hook):
    """Raise :class:`~mmpx.errors.ConfigError` when a metric of ``val_evaluator`` or ``test_evaluator`` returns no
    value at all (a metric meant to return nothing, ``DumpResults``, is left alone)."""

    priority = "VERY_HIGH"  # before CheckpointHook (save_best) and LoggerHook read the empty metrics

    def before_val_epoch(self, runner) -> None:
        _watch(runner.val_loop.evaluator)

    def after_val_epoch(self, runner, metrics=None) -> None:
        _check(runner.val_loop.evaluator, "val_evaluator", runner)

    def before_test_epoch(self, runner) -> None:
        _watch(runner.test_loop.evaluator)

    def after_test_epoch(self, runner, metrics=None) -> None:
        _check(runner.test_loop.evaluator, "test_evaluator", runner)
