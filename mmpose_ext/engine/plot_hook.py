"""``PlotHook``: at the end of a run, write ``loss.png`` and ``val.png`` into the run folder.

Use it from a config::

    custom_hooks = [dict(type='PlotHook')]                  # into work_dir
    custom_hooks = [dict(type='PlotHook', keys=['loss', 'coco/AP'], out_dir='plots')]

The plots cover every start of the run (a resumed run's timestamps are merged); see
:func:`mmpx.evaluation.plots.plot_run`. A failure to plot is logged as a warning and never fails the run.
"""

from __future__ import annotations

import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import Hook

from mmpose_ext.registry import HOOKS


@HOOKS.register_module()
class PlotHook(Hook):
    """Plot training losses (vs iteration) and validation metrics (vs epoch) after the run.

    Args:
        out_dir: folder for the PNGs; relative paths are under ``work_dir``. Default: ``work_dir``.
        keys: only these loss / metric keys (default: all).
    """

    priority = "VERY_LOW"  # after LoggerHook has written the last scalars

    def __init__(self, out_dir: str | None = None, keys: list[str] | None = None):
        self.out_dir = out_dir
        self.keys = list(keys) if keys else None

    def after_run(self, runner) -> None:
        if not is_main_process():
            return
        from mmpx.evaluation.plots import plot_run

        out_dir = runner.work_dir if self.out_dir is None else osp.join(runner.work_dir, self.out_dir)
        try:
            written = plot_run(runner.work_dir, out_dir=out_dir, keys=self.keys)
        except Exception as exc:  # plots are a convenience: never fail a finished run over them
            runner.logger.warning(f"PlotHook: could not plot {runner.work_dir}: {type(exc).__name__}: {exc}")
            return
        if written:
            runner.logger.info(f"PlotHook: wrote {', '.join(str(p) for p in written)}")
