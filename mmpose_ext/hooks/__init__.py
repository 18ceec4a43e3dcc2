"""mmengine hooks that mmpose-ext registers into MMPose's ``HOOKS`` registry."""

from mmpose_ext.hooks.plot_hook import PlotHook

__all__ = ["PlotHook"]
