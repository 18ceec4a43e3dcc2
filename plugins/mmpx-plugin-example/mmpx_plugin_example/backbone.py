"""``ExampleTinyNet``: a small conv-BN-ReLU backbone, enough to learn the synthetic kites on a CPU."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS


@MODELS.register_module()
class ExampleTinyNet(BaseBackbone):
    """A plain stack of stages, each ``num_convs`` 3x3 conv-BN-ReLU blocks; the first conv of a stage strides.

    Args:
        in_channels: channels of the input image.
        widths: output channels of each stage.
        strides: stride of each stage's first conv (same length as ``widths``).
        num_convs: convs per stage.
        out_indices: stages whose outputs are returned, as MMPose backbones do (negative indices count
            from the end).
        norm_cfg: normalisation layer config.
        init_cfg: initialisation config; ``None`` uses Kaiming for convs and constant 1 for norms.

    Examples:
        >>> import torch
        >>> from mmpose.registry import MODELS
        >>> net = MODELS.build(dict(type='ExampleTinyNet', widths=(16, 32), strides=(2, 2)))
        >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 64, 64))]
        [(1, 32, 16, 16)]
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (16, 32, 64),
        strides: Sequence[int] = (2, 2, 2),
        num_convs: int = 2,
        out_indices: Sequence[int] = (-1,),
        norm_cfg: dict | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        if init_cfg is None:
            init_cfg = [dict(type="Kaiming", layer="Conv2d"),
                        dict(type="Constant", val=1, layer="_BatchNorm")]
        super().__init__(init_cfg=init_cfg)
        if len(widths) != len(strides) or not widths:
            raise ValueError(f"widths {tuple(widths)} and strides {tuple(strides)}: one stride per width")
        if num_convs < 1:
            raise ValueError(f"num_convs must be at least 1, got {num_convs}")
        if not out_indices or any(not -len(widths) <= i < len(widths) for i in out_indices):
            raise ValueError(f"out_indices {tuple(out_indices)} must index the {len(widths)} stages")
        self.out_indices = tuple(i % len(widths) for i in out_indices)
        norm_cfg = norm_cfg or dict(type="BN")
        self.stages = nn.ModuleList()
        channels = in_channels
        for width, stride in zip(widths, strides, strict=True):
            convs = []
            for j in range(num_convs):
                convs.append(ConvModule(channels, width, 3, stride=stride if j == 0 else 1, padding=1,
                                        norm_cfg=norm_cfg, act_cfg=dict(type="ReLU")))
                channels = width
            self.stages.append(nn.Sequential(*convs))

    def forward(self, x):
        """Return the outputs of the stages in ``out_indices``, as a tuple."""
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
