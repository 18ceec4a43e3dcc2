"""``__CLASS__``: a small convolutional backbone written to mmpose-ext's backbone protocol.

The protocol (mmpose-ext docs/plugins.md): ``forward`` returns a tuple of NCHW maps; the ``mmpx_*`` attributes
declare their channels and strides (preflight checks the head against them) and the stem and stages
(``mmpx train --freeze backbone:N`` freezes the stem and the first N stages).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS


@MODELS.register_module()  # never force=True: pick a name MMPose does not use
class __CLASS__(BaseBackbone):
    """A stride-2 stem, then stages that each halve the size (two 3x3 conv-BN-ReLU blocks each).

    Args:
        in_channels: channels of the input image.
        widths: output channels of each stage.
        out_indices: stages whose outputs are returned (negative indices count from the end).
        init_cfg: initialisation; ``None`` uses Kaiming for convs and 1 for norms. Pretrained weights: a local
            file only, e.g. ``dict(type='Pretrained', checkpoint='/path/net.pth')`` (nothing may download).
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (32, 64, 128),
        out_indices: Sequence[int] = (-1,),
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        if init_cfg is None:
            init_cfg = [dict(type="Kaiming", layer="Conv2d"), dict(type="Constant", val=1, layer="_BatchNorm")]
        super().__init__(init_cfg=init_cfg)
        if not widths:
            raise ValueError("widths must name at least one stage")
        if not out_indices or any(not -len(widths) <= i < len(widths) for i in out_indices):
            raise ValueError(f"out_indices {tuple(out_indices)} must index the {len(widths)} stages")
        self.out_indices = tuple(i % len(widths) for i in out_indices)
        norm, act = dict(type="BN"), dict(type="ReLU")
        self.stem = ConvModule(in_channels, widths[0], 3, stride=2, padding=1, norm_cfg=norm, act_cfg=act)
        self.stages = nn.ModuleList()
        channels = widths[0]
        for width in widths:
            self.stages.append(nn.Sequential(
                ConvModule(channels, width, 3, stride=2, padding=1, norm_cfg=norm, act_cfg=act),
                ConvModule(width, width, 3, padding=1, norm_cfg=norm, act_cfg=act)))
            channels = width
        # the backbone protocol
        self.mmpx_stem = ("stem",)
        self.mmpx_stages = tuple(f"stages.{i}" for i in range(len(widths)))
        self.mmpx_out_channels = tuple(widths[i] for i in self.out_indices)
        self.mmpx_out_strides = tuple(2 ** (i + 2) for i in self.out_indices)

    def forward(self, x):
        """The outputs of the stages in ``out_indices``, as a tuple of NCHW maps."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
