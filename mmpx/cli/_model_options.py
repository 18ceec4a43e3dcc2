"""The options that choose a pose model and where its boxes come from, shared by ``mmpx infer`` and ``mmpx
suggest``, and the loading they lead to."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmpx.errors import MmpxError


class Backend(StrEnum):
    torch = "torch"
    onnxruntime = "onnxruntime"


PoseOpt = Annotated[Path | None, typer.Option(
    "--pose", help="MMPose top-down config (required with --backend torch).", show_default=False)]
WeightsOpt = Annotated[Path | None, typer.Option(
    "--weights", "--model", help="Pose checkpoint (.pth; .onnx with --backend onnxruntime). Without it (torch) the "
    "model keeps random weights.", show_default=False)]
DetConfigOpt = Annotated[str | None, typer.Option(
    "--det-config", help="mmdet config of the detector that finds the boxes (a file or "
    "mmdet::rtmdet/rtmdet_tiny_8xb32-300e_coco.py).", show_default=False)]
DetWeightsOpt = Annotated[Path | None, typer.Option(
    "--det-weights", help="Detector checkpoint (random weights without it).", show_default=False)]
DetCatIdOpt = Annotated[list[int] | None, typer.Option(
    "--det-cat-id", help="Detector class index kept, 0-based (COCO: 0 person, 2 car); repeat for several. "
    "Default 0.", show_default=False)]
WholeImageOpt = Annotated[bool, typer.Option(
    "--whole-image", help="No detector: one box, the whole image (for crops of one object).")]
BboxThrOpt = Annotated[float, typer.Option("--bbox-thr", help="Keep detections scoring above this.")]
NmsThrOpt = Annotated[float, typer.Option(
    "--nms-thr", help="IoU above which overlapping detections are merged (NMS); 1 turns NMS off.")]
DeviceOpt = Annotated[str, typer.Option("--device", help="cpu, cuda or cuda:N.")]
BackendOpt = Annotated[Backend, typer.Option(
    "--backend", help="torch (config + .pth) or onnxruntime (an .onnx from mmpx export).")]
ThreadsOpt = Annotated[int | None, typer.Option(
    "--threads", help="CPU threads for the pose model (ONNX Runtime intra-op / torch.set_num_threads). "
    "Default: the runtime's choice (all cores).", min=1, show_default=False)]


def check_model_options(pose, weights, det_config, det_weights, whole_image, backend) -> None:
    """Option combinations that cannot work, found before any model is loaded."""
    if backend == Backend.torch and pose is None:
        raise MmpxError("--pose CONFIG is required with the torch backend",
                        "e.g. --pose configs/carpose/rtmpose-t_carpose-256x256.py --weights best.pth")
    if backend == Backend.onnxruntime and (weights is None or weights.suffix.lower() != ".onnx"):
        raise MmpxError("--backend onnxruntime needs --weights MODEL.onnx (with its MODEL.json beside it)",
                        "export one with `mmpx export`")
    if weights is not None and "://" not in str(weights) and not weights.is_file():
        raise MmpxError(f"--weights {weights} does not exist", "check the path")
    if det_weights is not None and det_config is None:
        raise MmpxError("--det-weights given without --det-config", "pass the detector's config with --det-config")
    if det_config is not None and whole_image:
        raise MmpxError("--det-config and --whole-image both given", "use one way of finding boxes")
    if det_config is None and not whole_image:
        raise MmpxError(
            "no detector given: mmpx does not guess one (a pose model never silently gets a person detector)",
            "pass --det-config DET_CONFIG [--det-weights DET.pth] [--det-cat-id N] to detect the objects, or "
            "--whole-image to use each whole image as one box",
        )


def load_pose(backend, pose, weights, device, cfg_options=None, batch_size=32, flip_test=None, threads=None):
    from mmpx.api import load_pose_model  # the Python API's loader: the commands are built on it

    if backend == Backend.onnxruntime:
        return load_pose_model(weights, device=device, flip_test=flip_test, threads=threads)
    return load_pose_model(pose, weights, device=device, flip_test=flip_test, threads=threads, batch_size=batch_size,
                           cfg_options=cfg_options)


def load_boxes(whole_image, det_config, det_weights, device, det_cat_id, bbox_thr, nms_thr):
    """The box source: the whole image, or an mmdet detector."""
    if whole_image:
        from mmpx.infer.boxes import WholeImage

        return WholeImage()
    from mmpx.api import load_detector

    return load_detector(det_config, det_weights, device=device, cat_ids=det_cat_id or [0], bbox_thr=bbox_thr,
                         nms_thr=nms_thr)


def trust_weights(backend, whole_image, trust_checkpoint, *paths) -> None:
    """Import the torch side when the command needs it (the fixes, safe checkpoint loading) and trust ``paths``."""
    if backend == Backend.torch or not whole_image:  # ONNX + whole image needs none of it
        from mmpose_ext.compat.checkpoint import trust

        if trust_checkpoint:
            trust(*[str(p) for p in paths if p is not None])
