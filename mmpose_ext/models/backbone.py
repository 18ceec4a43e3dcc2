"""The backbone protocol (docs/guides/plugins.md) and the checks built on it.

A backbone's ``forward`` returns a tuple of NCHW maps. It may declare, as attributes (prefixed ``mmpx_``
because MMPose's blocks already use ``out_channels`` for other things):

- ``mmpx_out_channels``: channels of each returned map;
- ``mmpx_out_strides``: input size / map size of each returned map;
- ``mmpx_stem``: dotted names (relative to the backbone) of its stem modules;
- ``mmpx_stages``: dotted names of its stages, in order (what ``--freeze backbone:N`` counts).

Channels and strides are measured with one forward pass when not declared, and checked against the
declaration when they are. Preflight uses the result to check the head's settings in seconds, before a
mismatch becomes a raw torch error in the first iteration.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

from mmpx.errors.problems import ERROR, Problem

# MMPose heads that read only the last map (``feats[-1]``), so ``in_channels`` is that map's channels
LAST_MAP_HEADS = frozenset({"HeatmapHead", "RTMCCHead", "SimCCHead", "CIDHead", "InternetHead", "DEKRHead",
                            "IntegralRegressionHead", "DSNTHead", "RegressionHead", "RLEHead"})
# models whose backbone takes an NCHW image (pose lifters take keypoint sequences)
IMAGE_MODELS = frozenset({"TopdownPoseEstimator", "BottomupPoseEstimator"})


@dataclass(frozen=True)
class BackboneOutputs:
    """What a backbone returns for one input size: per map, channels, (width, height) and stride."""

    channels: tuple[int, ...]
    sizes: tuple[tuple[int, int], ...]
    strides: tuple[float, ...]


def declared_stages(backbone) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """``(stem, stages)`` module names the backbone declares, or None when it declares none."""
    stages = getattr(backbone, "mmpx_stages", None)
    if not stages:
        return None
    return tuple(getattr(backbone, "mmpx_stem", None) or ()), tuple(stages)


def measure(backbone, input_size: tuple[int, int], neck=None) -> BackboneOutputs:
    """Run ``backbone`` (then ``neck``) once on a zero image of ``input_size`` (width, height).

    Raises:
        TypeError: forward returned something other than a tensor or a tuple/list of NCHW tensors.
    """
    import torch

    width, height = input_size
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            out = backbone(torch.zeros(1, 3, height, width))
            if neck is not None:
                neck.eval()
                out = neck(out if isinstance(out, (tuple, list)) else (out,))
    finally:
        backbone.train(was_training)
    maps = (out,) if isinstance(out, torch.Tensor) else out
    if not isinstance(maps, (tuple, list)) or not maps or not all(
            isinstance(m, torch.Tensor) and m.ndim == 4 for m in maps):
        kinds = type(out).__name__ if not isinstance(out, (tuple, list)) else [
            f"{type(m).__name__}{tuple(m.shape) if hasattr(m, 'shape') else ''}" for m in out]
        raise TypeError(f"forward returned {kinds}; a backbone returns a tuple of NCHW tensors")
    sizes = tuple((int(m.shape[3]), int(m.shape[2])) for m in maps)
    return BackboneOutputs(
        channels=tuple(int(m.shape[1]) for m in maps),
        sizes=sizes,
        strides=tuple(round(width / w, 3) for w, _ in sizes),
    )


def _input_size(model: dict, cfg) -> tuple[int, int] | None:
    decoder = (model.get("head") or {}).get("decoder") or cfg.get("codec") or {}
    size = decoder.get("input_size") if isinstance(decoder, dict) else None
    if isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size):
        return int(size[0]), int(size[1])
    return None


def _declared_mismatch(backbone, found: BackboneOutputs) -> str | None:
    for attr, measured in (("mmpx_out_channels", found.channels), ("mmpx_out_strides", found.strides)):
        declared = getattr(backbone, attr, None)
        if declared is not None and tuple(float(v) for v in declared) != tuple(float(v) for v in measured):
            return f"{type(backbone).__name__}.{attr} is {tuple(declared)} but forward gave {tuple(measured)}"
    return None


def head_problems(cfg, config: str) -> list[Problem]:
    """Build the backbone (and neck) of ``cfg.model``, run it once, and check the head's ``in_channels``,
    ``in_featuremap_size`` (RTMCCHead) and output heatmap size (HeatmapHead) against what it returns."""
    model = cfg.get("model") or {}
    head = model.get("head") or {}
    if model.get("type") not in IMAGE_MODELS or not isinstance(model.get("backbone"), dict) or \
            not isinstance(head, dict) or head.get("type") not in LAST_MAP_HEADS:
        return []
    input_size = _input_size(model, cfg)
    if input_size is None:
        return []
    from mmpose_ext.registry import MODELS

    def error(field: str, message: str, hint: str, code: str) -> Problem:
        return Problem(ERROR, config, field, message, hint, code)

    try:
        backbone = MODELS.build(copy.deepcopy(model["backbone"]))
        neck = MODELS.build(copy.deepcopy(model["neck"])) if model.get("neck") else None
        found = measure(backbone, input_size, neck)
    except Exception as exc:  # the Runner would fail the same way; say it here, in one line
        first = (str(exc).strip().splitlines() or [""])[0]
        return [error("model.backbone", f"the backbone ({model['backbone'].get('type')}) fails on a "
                      f"{input_size[0]}x{input_size[1]} input: {type(exc).__name__}: {first}",
                      "fix the backbone's settings (mmpx train --no-preflight skips this check)", "backbone-forward")]
    problems = []
    mismatch = _declared_mismatch(backbone, found)
    if mismatch:
        problems.append(error("model.backbone", mismatch, "the backbone's declarations must match its forward "
                              "(docs/guides/plugins.md, the backbone protocol)", "backbone-declaration"))
    channels, (map_w, map_h), stride = found.channels[-1], found.sizes[-1], found.strides[-1]
    what = f"the {'neck' if neck is not None else 'backbone'}'s last output"
    in_channels = head.get("in_channels")
    if isinstance(in_channels, int) and in_channels != channels:
        problems.append(error("model.head.in_channels", f"model.head.in_channels is {in_channels} but {what} has "
                              f"{channels} channels", f"set model.head.in_channels={channels}", "head-in-channels"))
    fm_size = head.get("in_featuremap_size")
    if head.get("type") == "RTMCCHead" and isinstance(fm_size, (tuple, list)) and tuple(fm_size) != (map_w, map_h):
        problems.append(error("model.head.in_featuremap_size", f"model.head.in_featuremap_size is {tuple(fm_size)} "
                              f"but {what} is {map_w}x{map_h} (input {input_size[0]}x{input_size[1]}, stride "
                              f"{stride:g})", f"set model.head.in_featuremap_size=({map_w}, {map_h})",
                              "head-featuremap-size"))
    problems += _heatmap_size(head, (map_w, map_h), error)
    return problems


def _heatmap_size(head: dict, map_size: tuple[int, int], error) -> list[Problem]:
    """HeatmapHead: each deconvolution doubles the map; the result must be the codec's heatmap size."""
    decoder = head.get("decoder") or {}
    wanted = decoder.get("heatmap_size") if isinstance(decoder, dict) else None
    if head.get("type") != "HeatmapHead" or not isinstance(wanted, (tuple, list)):
        return []
    deconvs = head.get("deconv_out_channels", (256, 256, 256)) or ()
    scale = 2 ** len(deconvs)
    out = (map_size[0] * scale, map_size[1] * scale)
    if out == tuple(wanted):
        return []
    return [error("model.head.decoder.heatmap_size", f"HeatmapHead outputs {out[0]}x{out[1]} heatmaps "
                  f"({map_size[0]}x{map_size[1]} features, {len(deconvs)} deconvolutions) but the codec's "
                  f"heatmap_size is {tuple(wanted)}", f"set the codec's heatmap_size=({out[0]}, {out[1]}), or "
                  "change the number of deconv_out_channels", "heatmap-size")]
