"""Training pieces for mmengine's Runner, registered in MMPose's ``HOOKS`` registry.

- :class:`FreezeHook` (``dict(type='FreezeHook', patterns=[...])``): real freezing by parameter name pattern.
- :class:`PartialLoadHook` (``dict(type='PartialLoadHook', checkpoint=PATH)``): load every tensor whose name and
  shape match, report the rest (fine-tuning across keypoint counts); :func:`partial_load` does it on a model.
- :class:`PlotHook` (``dict(type='PlotHook')``): loss and validation plots at the end of a run.
- :class:`AtomicCheckpointHook` (``default_hooks.checkpoint.type='AtomicCheckpointHook'``): mmengine's
  CheckpointHook whose checkpoints and ``last_checkpoint`` are never half-written (``mmpx train`` uses it).
- :class:`ChannelsLastHook` (``custom_hooks = [dict(type='ChannelsLastHook')]``): train in channels-last
  memory format, faster for CNNs on the CPU (the quickstart uses it).
- :class:`MetricCheckHook` (``mmpx train``/``mmpx test`` add it): an evaluator metric that returns no value
  stops the run at the first validation or test, instead of a run with no metric.
- :class:`ReportHook` (``mmpx train``/``mmpx test`` add it): each validation's and test's predictions as COCO
  results (``predictions/``) and ``report.html`` at the end of the run.
- :class:`PerImageVisualizationHook`: MMPose's visualization hook drawing one picture per test image, all its
  instances merged (``mmpx test --show-dir`` uses it).

Beside the hooks, :mod:`mmpose_ext.engine.config_text` formats a run's config text once (mmengine asked yapf
for it at every checkpoint), :mod:`mmpose_ext.engine.console` keeps the terminal short under the progress
bar (the Runner's start-up dump and what libraries print go to the run's log file), and
:mod:`mmpose_ext.engine.dist_collect` has a distributed CPU run gather its ranks' results in its work dir.
"""

from mmpose_ext.engine.atomic_checkpoint import AtomicCheckpointHook, use_atomic_checkpoints
from mmpose_ext.engine.channels_last import ChannelsLastHook
from mmpose_ext.engine.hooks import (
    FreezeHook,
    LoadReport,
    PartialLoadHook,
    freeze_summary,
    partial_load,
    resolve_freeze_patterns,
)
from mmpose_ext.engine.image_vis import PerImageVisualizationHook
from mmpose_ext.engine.metric_check import MetricCheckHook
from mmpose_ext.engine.plot_hook import PlotHook
from mmpose_ext.engine.progress import ProgressHook  # noqa: F401  (registers it)
from mmpose_ext.engine.report_hook import ReportHook

__all__ = [
    "AtomicCheckpointHook",
    "ChannelsLastHook",
    "FreezeHook",
    "LoadReport",
    "MetricCheckHook",
    "PartialLoadHook",
    "PerImageVisualizationHook",
    "PlotHook",
    "ReportHook",
    "freeze_summary",
    "partial_load",
    "resolve_freeze_patterns",
    "use_atomic_checkpoints",
]
