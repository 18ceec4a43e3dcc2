"""``__CLASS__``: a small convolutional backbone written to mmpose-ext's backbone protocol.

A plain ``torch.nn.Module``: the protocol (mmpose-ext docs/guides/plugins.md) needs no MMPose base class and no
``init_cfg``. ``forward`` returns a tuple of NCHW maps; the ``mmpx_*`` attributes declare their channels and
strides (preflight checks the head against them) and the stem and stages (``mmpx train --freeze backbone:N``
freezes the stem and the first N stages). Pretrained weights come from a local file, loaded in ``__init__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn as nn
from mmpose.registry import MODELS


def _conv(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


@MODELS.register_module()  # never force=True: pick a name MMPose does not use
class __CLASS__(nn.Module):
    """A stride-2 stem, then stages that each halve the size (two 3x3 conv-BN-ReLU blocks each).

    Args:
        in_channels: channels of the input image.
        widths: output channels of each stage.
        out_indices: stages whose outputs are returned (negative indices count from the end).
        pretrained: a local file holding this backbone's state dict (``torch.save(net.state_dict(), path)``),
            loaded here; nothing may download. None: Kaiming-initialised convolutions.
    """

    def __init__(
        self,
        in_channels: int = 3,
        widths: Sequence[int] = (32, 64, 128),
        out_indices: Sequence[int] = (-1,),
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        if not widths:
            raise ValueError("widths must name at least one stage")
        if not out_indices or any(not -len(widths) <= i < len(widths) for i in out_indices):
            raise ValueError(f"out_indices {tuple(out_indices)} must index the {len(widths)} stages")
        self.out_indices = tuple(i % len(widths) for i in out_indices)
        self.stem = _conv(in_channels, widths[0], stride=2)
        self.stages = nn.ModuleList()
        channels = widths[0]
        for width in widths:
            self.stages.append(nn.Sequential(_conv(channels, width, stride=2), _conv(width, width)))
            channels = width
        # the backbone protocol
        self.mmpx_stem = ("stem",)
        self.mmpx_stages = tuple(f"stages.{i}" for i in range(len(widths)))
        self.mmpx_out_channels = tuple(widths[i] for i in self.out_indices)
        self.mmpx_out_strides = tuple(2 ** (i + 2) for i in self.out_indices)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if pretrained is not None:
            self.load_pretrained(pretrained)

    def load_pretrained(self, path: str) -> None:
        """Load this backbone's weights from a local state-dict file; every tensor must fit."""
        if "://" in str(path):
            raise ValueError(f"pretrained={path!r}: a local file only (nothing may download); download it once "
                             "and give its path")
        if not Path(path).is_file():
            raise FileNotFoundError(f"pretrained={path}: no such file")
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.load_state_dict(state.get("state_dict", state))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The outputs of the stages in ``out_indices``, as a tuple of NCHW maps."""
        x = self.stem(x)
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
