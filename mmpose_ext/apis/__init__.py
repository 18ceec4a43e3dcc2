"""Plain functions behind the ``mmpx`` commands; each can be called and tested from Python."""

from mmpose_ext.apis.publish import publish
from mmpose_ext.apis.train import load_config, test, train

__all__ = ["load_config", "publish", "test", "train"]
