"""``mmpx export``: trained models to deployable files (ONNX + a JSON sidecar for decoding)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded
from mmpx.cli._options import CfgExtraArg, CfgOptionsOpt, ConfigArg, TrustCheckpointOpt, cfg_options_from

app = make_typer(help="Export a trained model (ONNX with a decoding sidecar).")


@app.command("onnx")
@guarded(inputs=("config", "checkpoint"), outputs=("out",))
def onnx(
    config: ConfigArg,
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint to export (.pth).", show_default=False)],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output .onnx file (default: the checkpoint's path with .onnx); "
                     "the sidecar is written beside it as NAME.json."),
    ] = None,
    dynamic_batch: Annotated[
        bool,
        typer.Option(
            "--dynamic-batch/--static-batch",
            help="Dynamic batch: all boxes (and their flipped copies) in one run, 1.1-1.4x faster on the CPU. "
            "--static-batch: a graph for exactly one crop (runtimes that need fixed shapes).",
        ),
    ] = True,
    dynamic_size: Annotated[
        bool,
        typer.Option(
            "--dynamic-size",
            help="Detectors only: the input's height and width are dynamic, and each image is padded only to the "
            "next multiple of 32 (the largest stride) after the keep-ratio resize, as mmdet's Pad(size_divisor=32) "
            "does, not to the config's square: a 640x480 frame costs 25% less detector work (16:9 video 40%). The "
            "boxes are mmdet's in that mode, which differ slightly from the padded-square default's; runtimes that "
            "need fixed shapes cannot take it.",
        ),
    ] = False,
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset version.")] = 17,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
    cfg_extra: CfgExtraArg = None,
) -> None:
    """Export a top-down pose model, a one-stage RTMO model or an RTMDet detector to ONNX plus a JSON sidecar that
    mmpx infer --backend onnxruntime, OnnxPoseModel, OnnxOneStage and OnnxDetector use to run, decode and draw.

    Pose models: the graph is backbone + neck + head on a normalised N x 3 x H x W crop and returns the raw head
    outputs (SimCC x/y vectors or heatmaps); the sidecar holds the input size, normalisation, codec, test_cfg and
    keypoint metainfo. Supported: TopdownPoseEstimator with RTMCCHead, RTMWHead, SimCCHead, HeatmapHead or
    ViPNASHead. One-stage models (BottomupPoseEstimator with RTMOHead, picked automatically): the graph returns the
    boxes, scores and keypoints of the best anchors of the whole image; the score threshold and NMS run in numpy
    (the sidecar: input size, normalisation, pad value, score_thr, nms_thr, keypoint metainfo). Detectors (an
    mmdet config, picked automatically): RTMDet; the graph returns the class scores and box distances of every
    prior, and resizing, padding, decoding and NMS run in numpy (the sidecar: classes, sizes, normalisation,
    strides, score_thr, nms_pre, iou_threshold, max_per_img). The file is checked with onnx.checker and against
    torch before it is written.
    """
    from mmpx.atomic import check_writable
    from mmpx.runtime.model_file import check_targets

    target = out if out is not None else checkpoint.with_suffix(".onnx")
    check_writable(target, "--out")  # before torch and the model are loaded
    check_targets(target)
    from mmpose_ext.deploy.det_export import config_is_detector, export_detector_onnx
    from mmpose_ext.deploy.export import export_onnx

    options = cfg_options_from(cfg_options, cfg_extra)
    detector = config_is_detector(config, options)
    if dynamic_size and not detector:
        from mmpx.errors import MmpxError

        raise MmpxError(f"--dynamic-size: {config} is not a detector config",
                        "leave --dynamic-size out: pose models take fixed-size crops")
    extra = {"dynamic_size": True} if dynamic_size else {}
    result = (export_detector_onnx if detector else export_onnx)(
        config, checkpoint, out=out, dynamic_batch=dynamic_batch, opset=opset, cfg_options=options,
        trust_checkpoint=trust_checkpoint, **extra)
    sc = result.sidecar
    if sc.get("kind") == "one-stage":
        typer.echo(f"wrote {result.onnx_path} ({sc['model']['head']} one-stage model, input {sc['input']['shape']}, "
                   f"{sc['dataset_meta'].get('num_keypoints')} keypoints, at most {sc['model']['top_k']} instances "
                   f"an image, opset {sc['source']['opset']}) and {result.sidecar_path}; ONNX Runtime vs torch max "
                   f"abs diff {result.max_abs_diff:.2e}")
        check = sc["source"].get("check_on_random_input") or {}
        if check.get("keypoint_coords_differing"):
            typer.echo(f"note: {check['keypoint_coords_differing']} of {check['of']} keypoint coordinates moved by up "
                       f"to {check['largest']} px between torch and ONNX Runtime on the random check input (near-flat "
                       "keypoint distributions, as a briefly trained model has); check the model on real images")
        return
    if detector:
        size = (f"dynamic size, padded to a multiple of {sc['preprocess']['size_divisor']}"
                 if sc["input"].get("dynamic_size") else f"input {sc['input']['shape']}")
        typer.echo(f"wrote {result.onnx_path} ({sc['model']['type']} detector, {size}, "
                   f"{len(sc['classes'])} classes, opset {sc['source']['opset']}) and {result.sidecar_path}; "
                   f"ONNX Runtime vs torch max abs diff {result.max_abs_diff:.2e}")
        return
    typer.echo(f"wrote {result.onnx_path} ({sc['head']['type']}, input {sc['input']['shape']}, "
               f"outputs {', '.join(o['name'] for o in sc['outputs'])}, opset {sc['source']['opset']})")
    typer.echo(f"wrote {result.sidecar_path} (codec {sc['codec']['type']}, "
               f"{sc['dataset_meta'].get('num_keypoints')} keypoints, "
               f"flip_test={bool(sc['test_cfg'].get('flip_test', False))}); "
               f"ONNX Runtime vs torch max abs diff {result.max_abs_diff:.2e}")


@app.command("int8")
@guarded(inputs=("model", "calib_ann", "calib_images"), outputs=("out",))
def int8(
    model: Annotated[Path, typer.Argument(help="An fp32 model written by mmpx export onnx (its .json beside it).",
                                          show_default=False)],
    calib_ann: Annotated[Path, typer.Option("--calib-ann", help="COCO keypoint file whose boxes give the "
                                            "calibration crops (your val set; for a detector, its images).",
                                            show_default=False)],
    calib_images: Annotated[Path, typer.Option("--calib-images", help="The folder its file_name entries are "
                                               "relative to.", show_default=False)],
    out: Annotated[Path | None, typer.Option("--out", help="Output .onnx (default: MODEL with .int8.onnx).")] = None,
    calib_crops: Annotated[int, typer.Option("--calib-crops", help="Instances (pose model) or images (detector) "
                                             "used to calibrate.", min=1)] = 128,
) -> None:
    """Quantise an exported pose model or detector to int8 (ONNX Runtime static QDQ) for faster CPU inference.

    A pose model calibrates on crops of the first --calib-crops instances of --calib-ann, then runs the fp32 and
    int8 models on every instance of it and prints how far apart their keypoints are. A detector (exported from
    an RTMDet config) calibrates on the first --calib-crops whole images of --calib-ann and prints how many of the
    fp32 boxes the int8 one still finds. Both figures are kept in the sidecar: int8 trades accuracy for speed,
    unlike the fp32 export. Use the result with mmpx infer --backend onnxruntime (--det-weights for a detector).
    """
    from mmpx.atomic import check_writable
    from mmpx.runtime.det import is_detector_file
    from mmpx.runtime.model_file import check_targets

    target = out if out is not None else model.with_suffix(".int8.onnx")
    check_writable(target, "--out")
    check_targets(target)
    if is_detector_file(model):
        _int8_detector(model, calib_ann, calib_images, out, calib_crops)
        return
    from mmpx.runtime.quantize import quantize_onnx

    result = quantize_onnx(model, calib_ann, calib_images, out=out, calib_crops=calib_crops)
    a = result.agreement
    typer.echo(f"wrote {result.onnx_path} and {result.sidecar_path} (calibrated on {result.calibration_crops} crops)")
    typer.echo(f"int8 vs fp32 on {a['keypoints']} keypoints of {calib_ann}: mean {a['mean_px']:.2f} px, "
               f"max {a['max_px']:.1f} px; {100 * a['within_0_05_bbox']:.1f}% within 0.05 of the box size, "
               f"{100 * a['within_0_01_bbox']:.1f}% within 0.01")


def _int8_detector(model: Path, calib_ann: Path, calib_images: Path, out: Path | None, count: int) -> None:
    from mmpx.runtime.quantize_det import quantize_detector

    result = quantize_detector(model, calib_ann, calib_images, out=out, calib_images=count)
    a = result.agreement
    typer.echo(f"wrote {result.onnx_path} and {result.sidecar_path} (calibrated on {result.calibration_images} "
               "images)")
    if not a["fp32_boxes"]:
        typer.echo(f"int8 vs fp32 on {a['images']} images of {calib_ann}: the fp32 detector finds no box scoring "
                   f">= {a['score_thr']} there, so agreement was not measured; check the model on real images")
        return
    typer.echo(f"int8 vs fp32 on {a['images']} images of {calib_ann} (boxes scoring >= {a['score_thr']}): "
               f"{a['matched']} of {a['fp32_boxes']} fp32 boxes found ({100 * a['recall']:.1f}%), "
               f"{a['int8_boxes']} int8 boxes, matched IoU {a['mean_iou']}, score difference "
               f"{a['mean_score_diff']}")
