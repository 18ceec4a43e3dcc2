"""Plain functions behind the ``mmpx`` commands; each can be called and tested from Python."""

from mmpose_ext.apis.preflight import preflight
from mmpose_ext.apis.publish import publish
from mmpose_ext.apis.resume import latest_good_checkpoint
from mmpose_ext.apis.train import RunOptions, load_config, test, train
from mmpx.plots import plot_run

__all__ = ["RunOptions", "latest_good_checkpoint", "load_config", "plot_run", "preflight", "publish", "test", "train"]
