"""The options that choose a pose model and where its boxes come from, shared by ``mmpx infer`` and ``mmpx
suggest``; :mod:`mmpx.app.models` checks and loads what they choose."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmpx.app.models import ModelChoice


class Backend(StrEnum):
    torch = "torch"
    onnxruntime = "onnxruntime"


PoseOpt = Annotated[Path | None, typer.Option(
    "--pose", help="MMPose config (required with --backend torch): top-down (it needs a detector or "
    "--whole-image), or one-stage RTMO (it finds its own boxes: no detector option).", show_default=False)]
WeightsOpt = Annotated[Path | None, typer.Option(
    "--weights", "--model", help="Pose checkpoint (.pth; .onnx with --backend onnxruntime). Without it (torch) the "
    "model keeps random weights.", show_default=False)]
DetConfigOpt = Annotated[str | None, typer.Option(
    "--det-config", help="mmdet config of the detector that finds the boxes (a file or "
    "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py).", show_default=False)]
DetWeightsOpt = Annotated[Path | None, typer.Option(
    "--det-weights", help="Detector checkpoint (random weights without it); or a detector exported by mmpx export "
    "onnx (DET.onnx, given alone: it runs on ONNX Runtime, without torch).", show_default=False)]
DetCatIdOpt = Annotated[list[int] | None, typer.Option(
    "--det-cat-id", help="Detector class index kept, 0-based (COCO: 0 person, 2 car); repeat for several. "
    "Default 0; for a multi-class pose model without --class (each box its detector label's class), every "
    "class.", show_default=False)]
WholeImageOpt = Annotated[bool, typer.Option(
    "--whole-image", help="No detector: one box, the whole image (for crops of one object).")]
BboxThrOpt = Annotated[float | None, typer.Option(
    "--bbox-thr", help="Keep detections scoring above this (default 0.3; a one-stage model: its instances, "
    "default its config's test_cfg.score_thr).", show_default=False)]
NmsThrOpt = Annotated[float | None, typer.Option(
    "--nms-thr", help="IoU above which overlapping detections are merged (NMS); 1 turns NMS off (default 0.3; a "
    "one-stage model: its config's test_cfg.nms_thr).", show_default=False)]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda or cuda:N.")]
BackendOpt = Annotated[Backend, typer.Option(
    "--backend", help="torch (config + .pth) or onnxruntime (an .onnx from mmpx export).")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", help="CPU threads for the pose model (ONNX Runtime intra-op / torch.set_num_threads). "
    "Default: the runtime's choice (all cores).", min=1, show_default=False)]

ClassOpt = Annotated[str | None, typer.Option(
    "--class", help="A multi-class model's class of every box (car, bicycle): each instance gets that class's "
    "keypoints, names and skeleton only, and its category_id. Refused for a one-class model. Without it, a "
    "multi-class model with a detector whose class names are the model's (mmpx infer) gives each box the class "
    "of its detector label; otherwise required (docs/guides/multiclass.md).", show_default=False)]


def model_choice(pose, weights, det_config, det_weights, det_cat_id, whole_image, bbox_thr, nms_thr, device,
                 backend, threads, cfg_options, trust_checkpoint, class_name: str | None = None) -> ModelChoice:
    """The options above as one :class:`~mmpx.app.models.ModelChoice`."""
    return ModelChoice(pose=pose, weights=weights, det_config=det_config, det_weights=det_weights,
                       det_cat_id=det_cat_id, whole_image=whole_image, bbox_thr=bbox_thr, nms_thr=nms_thr,
                       device=device, backend=backend.value, threads=threads, cfg_options=cfg_options,
                       trust_checkpoint=trust_checkpoint, class_name=class_name)
