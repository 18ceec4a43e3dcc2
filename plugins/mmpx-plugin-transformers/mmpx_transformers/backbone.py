"""``HFBackbone``: a transformers ``AutoBackbone`` (ConvNeXt, ResNet, Swin, DINOv2...) as MMPose backbone."""

from __future__ import annotations

from collections.abc import Sequence

from mmengine.logging import print_log
from mmpose.models.backbones.base_backbone import BaseBackbone
from mmpose.registry import MODELS

from mmpx_transformers import hf


@MODELS.register_module()
class HFBackbone(BaseBackbone):
    """A transformers ``AutoBackbone`` built from its model type and config, returning NCHW feature maps.

    The model is built from the config (``AutoConfig.for_model``, then ``AutoBackbone.from_config``), so
    nothing is downloaded; pretrained weights come only from a local path, loaded by :meth:`init_weights`
    (which the Runner calls) after the rest of the model is initialised.

    It declares mmpose-ext's backbone protocol (``mmpx_out_channels``, ``mmpx_out_strides``, ``mmpx_stem``,
    ``mmpx_stages``): ``mmpx train --freeze backbone:N`` freezes the stem and the first ``N`` stages, and the
    preflight checks the head settings against it.

    Args:
        model_type: an ``AutoBackbone`` model type: ``'convnext'``, ``'resnet'``, ``'swin'``, ``'dinov2'``...
        config: keyword arguments of that type's config class, e.g. ``dict(hidden_sizes=[32, 64, 128, 256],
            depths=[1, 1, 2, 1])``; unset keys keep transformers' defaults (the base-size model).
        out_indices: stages whose maps are returned, 0-based after the stem (negative from the end), as MMPose
            backbones count them; transformers' own ``out_indices`` count the stem as 0.
        weights: ``None`` (random weights), a folder written by ``save_pretrained`` or a ``.safetensors``,
            ``.bin`` or ``.pth`` state dict; never a Hub id. The config must describe the same architecture.
        init_cfg: mmengine initialisation config of the wrapper; ``None`` keeps transformers' initialisation.

    Examples:
        >>> import torch
        >>> from mmpose.registry import MODELS
        >>> net = MODELS.build(dict(type='HFBackbone', model_type='convnext',
        ...                         config=dict(hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1])))
        >>> [tuple(f.shape) for f in net(torch.rand(1, 3, 64, 64))]
        [(1, 128, 2, 2)]
        >>> net.mmpx_out_channels, net.mmpx_out_strides
        ((128,), (32,))
    """

    def __init__(
        self,
        model_type: str,
        config: dict | None = None,
        out_indices: Sequence[int] = (-1,),
        weights: str | None = None,
        init_cfg: dict | list[dict] | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.model_type = model_type
        self.weights = None if weights is None else str(weights)
        self.model, self.out_indices = hf.build_backbone(model_type, config, out_indices)
        stem, stages = hf.layout(self.model)
        self.mmpx_stem = (f"model.{stem}",) if stem else ()
        self.mmpx_stages = tuple(f"model.{s}" for s in stages)
        self._strides: tuple[int, ...] | None = None

    @property
    def mmpx_out_channels(self) -> tuple[int, ...]:
        """Channels of each returned map."""
        return tuple(int(c) for c in self.model.channels)

    @property
    def mmpx_out_strides(self) -> tuple[int, ...]:
        """Input size / map size of each returned map."""
        if self._strides is None:
            every = hf.stage_strides(self.model)
            self._strides = tuple(every[i] for i in self.out_indices)
        return self._strides

    def init_weights(self) -> None:
        """Initialise as mmengine does, without re-initialising the transformers model, then load ``weights``.

        transformers initialised the model when it was built. mmengine would call its ``init_weights`` (a
        transformers method that draws new values), so it is marked initialised first; the local weights are
        loaded last, so no ``init_cfg`` overwrites them.
        """
        first = not self._is_init
        self.model.is_init = True
        super().init_weights()
        if first and self.weights is not None:
            from mmpx_transformers.weights import load_into

            print_log(load_into(self.model, self.weights).summary(), logger="current")

    def train(self, mode: bool = True):
        """As ``nn.Module.train``: returns ``self``, which MMPose's ``BaseBackbone.train`` does not (torch's
        ONNX exporter uses the returned module)."""
        super().train(mode)
        return self

    def forward(self, x):
        """The feature maps of the ``out_indices`` stages, as a tuple of ``(N, C, H, W)`` tensors."""
        return tuple(self.model(x).feature_maps)
