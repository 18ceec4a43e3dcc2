"""Plain functions behind the ``mmpx`` commands; each can be called and tested from Python.

A run is its options (:class:`RunOptions`, ``options``), a config prepared from them (``prepare``: loaded, checked,
then edited by the pure ``configure``) and the Runner built and run on it (``run``: :func:`train`, :func:`test`).
Beside them: ``preflight``, ``resume``, ``launch`` (device, processes), ``guard`` (outputs against inputs),
``staged`` (test outputs moved into place), ``publish`` and ``vis_backends``.
"""

from mmpose_ext.apis.options import RunOptions
from mmpose_ext.apis.preflight import preflight
from mmpose_ext.apis.prepare import test_config, train_config
from mmpose_ext.apis.publish import publish
from mmpose_ext.apis.resume import latest_good_checkpoint
from mmpose_ext.apis.run import test, train
from mmpose_ext.config import load_config
from mmpx.evaluation.plots import plot_run

__all__ = [
    "RunOptions",
    "latest_good_checkpoint",
    "load_config",
    "plot_run",
    "preflight",
    "publish",
    "test",
    "test_config",
    "train",
    "train_config",
]
