"""``mmpx report``: one self-contained HTML page about a run, or about a predictions file from any tool.

The page shows the run's configuration and data, its final metrics, training and validation curves, per-keypoint
PCK/EPE/OKS AP, left/right swaps, per-group tables and a gallery of the worst cases (ground truth and prediction
drawn on each instance's crop), filterable by keypoint and group; ``compare`` puts a second run beside it. Torch-free:
it reads the predictions that ``mmpx train``/``mmpx test`` leave in ``predictions/`` (:mod:`.predictions`).
"""

from mmpx.report.build import Report, build_eval_report, build_report
from mmpx.report.predictions import Predictions, read_predictions, write_predictions

__all__ = ["Predictions", "Report", "build_eval_report", "build_report", "read_predictions", "write_predictions"]
