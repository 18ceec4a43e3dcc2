"""``mmpx infer INPUT...``: pose inference (top-down, or one-stage RTMO) on images, folders and videos; drawings and
COCO results."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._model_options import (
    Backend,
    BackendOpt,
    BboxThrOpt,
    ClassOpt,
    DetCatIdOpt,
    DetConfigOpt,
    DetWeightsOpt,
    DeviceOpt,
    NmsThrOpt,
    PoseOpt,
    ThreadsOpt,
    WeightsOpt,
    WholeImageOpt,
    model_choice,
)
from mmpx.cli._options import CfgOptionsOpt, TrustCheckpointOpt
from mmpx.cli._output import err_console, report_warning


class SkeletonStyle(StrEnum):
    mmpose = "mmpose"
    openpose = "openpose"


@guarded(inputs=("inputs", "pose", "weights", "det_config", "det_weights"),
         outputs=("out_dir", "save_json", "save_labelme", "save_csv", "save_parquet", "save_as"))
def infer(
    inputs: Annotated[list[Path], typer.Argument(
        help="Images, videos, or folders (searched recursively for both, in sorted order).", show_default=False)],
    pose: PoseOpt = None,
    weights: WeightsOpt = None,
    det_config: DetConfigOpt = None,
    det_weights: DetWeightsOpt = None,
    det_cat_id: DetCatIdOpt = None,
    whole_image: WholeImageOpt = False,
    class_name: ClassOpt = None,
    bbox_thr: BboxThrOpt = None,
    nms_thr: NmsThrOpt = None,
    kpt_thr: Annotated[float, typer.Option("--kpt-thr", help="Draw keypoints scoring at least this.")] = 0.3,
    radius: Annotated[int, typer.Option("--radius", help="Keypoint radius in pixels.", min=1)] = 3,
    thickness: Annotated[int, typer.Option("--thickness", help="Link line width in pixels.", min=1)] = 1,
    draw_bbox: Annotated[bool, typer.Option("--draw-bbox", help="Draw each box.")] = False,
    draw_heatmap: Annotated[bool, typer.Option(
        "--draw-heatmap", help="Overlay the predicted heatmaps (max over keypoints; torch backend).")] = False,
    show_kpt_idx: Annotated[bool, typer.Option("--show-kpt-idx", help="Write each keypoint's index.")] = False,
    skeleton_style: Annotated[SkeletonStyle, typer.Option(
        "--skeleton-style", help="mmpose: lines; openpose: OpenPose's limbs (and colours, for COCO and "
        "wholebody).")] = SkeletonStyle.mmpose,
    out_dir: Annotated[Path | None, typer.Option(
        "--out-dir", help="Write drawn images and videos here under the same relative names (videos as .mp4).",
        show_default=False)] = None,
    save_json: Annotated[Path | None, typer.Option(
        "--save-json", help="Write every instance as COCO keypoint results (with file_name) to this file.",
        show_default=False)] = None,
    save_labelme: Annotated[Path | None, typer.Option(
        "--save-labelme", help="Write pre-labels: one labelme file per image (and per video frame) beside a copy of "
        "it, a rectangle and named points per instance; points scoring under --kpt-thr are flagged 'check'. Open "
        "DIR in labelme, correct, then mmpx convert labelme DIR OUT --metainfo ... (docs/guides/labelling.md).",
        show_default=False)] = None,
    labelme_label: Annotated[str, typer.Option(
        "--labelme-label", help="The label of each pre-label rectangle.")] = "object",
    save_as: Annotated[Path | None, typer.Option(
        "--save-as", help="Write the predictions for SLEAP (.slp), NWB (.nwb), Label Studio (.json) or "
        "DeepLabCut (.csv, frames named labeled-data/<folder>/<file>) through sleap-io (the formats extra); "
        "points under --kpt-thr are left out. With --track, its tracks.",
        show_default=False)] = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", help="Instances per forward pass (torch backend).", min=1)] = 32,
    device: DeviceOpt = "cpu",
    backend: BackendOpt = Backend.torch,
    flip_test: Annotated[bool | None, typer.Option(
        "--flip-test/--no-flip-test", help="Average each crop with its mirror image (about 2x the network time). "
        "Default: as the config's model.test_cfg (the ONNX sidecar keeps it).", show_default=False)] = None,
    threads: ThreadsOpt = None,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Do not show the progress bar.")] = False,
    track: Annotated[bool, typer.Option(
        "--track", help="Give every instance a track id that stays with the object across a video's frames "
        "(norfair, matching box corners and keypoints); drawn as #ID and written as track_id.",
        rich_help_panel="Video")] = False,
    track_max_missing: Annotated[int, typer.Option(
        "--track-max-missing", help="Frames a track is kept without a detection; its id comes back if the object "
        "does.", min=1, rich_help_panel="Video")] = 30,
    track_max_distance: Annotated[float, typer.Option(
        "--track-max-distance", help="Largest match distance between an instance and a track's predicted box "
        "corners and keypoints, as a fraction of the box diagonal.", min=0.0, rich_help_panel="Video")] = 0.5,
    smooth: Annotated[bool, typer.Option(
        "--smooth", help="Smooth each track's keypoints with a One-Euro filter (turns on --track); the raw values "
        "stay in the JSON (keypoints_raw) and the CSV (x_raw, y_raw).", rich_help_panel="Video")] = False,
    smooth_min_cutoff: Annotated[float, typer.Option(
        "--smooth-min-cutoff", help="One-Euro cut-off at rest, Hz: lower is smoother and lags more.",
        rich_help_panel="Video")] = 1.0,
    smooth_beta: Annotated[float, typer.Option(
        "--smooth-beta", help="One-Euro speed coefficient: higher follows fast motion more closely.",
        rich_help_panel="Video")] = 0.05,
    smooth_d_cutoff: Annotated[float, typer.Option(
        "--smooth-d-cutoff", help="One-Euro cut-off of the speed estimate, Hz.", rich_help_panel="Video")] = 1.0,
    save_csv: Annotated[Path | None, typer.Option(
        "--save-csv", help="Write trajectories: one row per frame, track and keypoint (video, frame, time, track_id, "
        "keypoint, x, y, score, visible). Turns on --track.", show_default=False, rich_help_panel="Video")] = None,
    save_parquet: Annotated[Path | None, typer.Option(
        "--save-parquet", help="The same table as Parquet (needs pyarrow). Turns on --track.", show_default=False,
        rich_help_panel="Video")] = None,
    det_every: Annotated[int, typer.Option(
        "--det-every", help="Run the detector on every N-th frame only; between, each track's box is predicted "
        "from its motion (turns on --track).", min=1, rich_help_panel="Video")] = 1,
    batch_frames: Annotated[int, typer.Option(
        "--batch-frames", help="Video frames whose crops go through the pose model as one batch.", min=1,
        rich_help_panel="Video")] = 4,
) -> None:
    """Estimate poses on images, folders and videos; draw them and/or save COCO results.

    A top-down model's boxes come from a detector (--det-config) or, with --whole-image, are the whole image: a pose
    model never silently gets a person detector. A one-stage model (RTMO) finds its own boxes: no detector option.
    Unreadable images or videos are skipped and listed; the exit code is then 1.
    Videos: --track keeps each object's id across frames, --smooth steadies its keypoints, --save-csv writes its
    trajectories (plot them with mmpx plot trajectories), --det-every N runs the detector every N frames.
    """
    from mmpx.app.infer import InferOutputs, InferRequest, VideoSwitches
    from mmpx.app.infer import infer as run_infer
    from mmpx.infer.runner import DrawOptions
    from mmpx.infer.smooth import OneEuroParams
    from mmpx.infer.track import TrackParams

    request = InferRequest(
        inputs, model_choice(pose, weights, det_config, det_weights, det_cat_id, whole_image, bbox_thr, nms_thr,
                             device, backend, threads, cfg_options, trust_checkpoint, class_name),
        InferOutputs(out_dir, save_json, save_labelme, labelme_label, save_csv, save_parquet, save_as),
        DrawOptions(kpt_thr=kpt_thr, radius=radius, thickness=thickness, draw_bbox=draw_bbox,
                    draw_heatmap=draw_heatmap, show_kpt_idx=show_kpt_idx, skeleton_style=skeleton_style.value),
        VideoSwitches(track, OneEuroParams(smooth_min_cutoff, smooth_beta, smooth_d_cutoff) if smooth else None,
                      det_every, batch_frames, TrackParams(track_max_missing, track_max_distance, kpt_thr)),
        batch_size=batch_size, flip_test=flip_test, progress=not no_progress)
    outcome = run_infer(request)
    _print_done(request, outcome)
    _warn(request, outcome)
    _print_skipped(outcome)


def _print_done(request, outcome) -> None:
    """What was done and written, on stderr."""
    console, summary, outputs = err_console(), outcome.summary, request.outputs
    parts = [f"{summary.images} image(s)"]
    if summary.videos:
        parts.append(f"{summary.videos} video(s) ({summary.frames} frames)")
    done = summary.images + summary.frames
    rate = f", {done / summary.seconds:.1f} images/s" if summary.seconds > 0 and done else ""
    meta = outcome.dataset_meta
    console.print(f"done: {', '.join(parts)}, {summary.instances} instance(s) in {summary.seconds:.1f} s{rate}; "
                  f"boxes: {outcome.boxes}; {meta.get('dataset_name', '?')} skeleton, "
                  f"{len(meta.get('keypoint_id2name', {}))} keypoints")
    if outcome.classes:
        console.print(f"classes: each box its detector label's class ({', '.join(outcome.classes)})")
    from mmpx.infer.mixed import dropped_line

    if (line := dropped_line(outcome.dropped)) is not None:
        console.print(line)
    if outputs.out_dir is not None:
        console.print(f"drawn: {len(summary.outputs)} file(s) in {outputs.out_dir}")
    if summary.json_path:
        console.print(f"results: {len(summary.records)} record(s) in {summary.json_path}")
    if summary.tracks:
        console.print("tracks: " + ", ".join(f"{n} in {name}" for name, n in summary.tracks.items()))
    if outcome.labelme_files is not None:
        console.print(f"pre-labels: {outcome.labelme_files} labelme file(s) in {outputs.save_labelme}")
    for path in summary.table_paths:
        console.print(f"trajectories: {len(summary.table)} row(s) in {path}")
    if outcome.saved_frames is not None:
        console.print(f"predictions: {outcome.saved_frames} frame(s) in {outputs.save_as}")


def _warn(request, outcome) -> None:
    """Runs that drew nothing worth looking at: no box found, every keypoint under --kpt-thr."""
    summary, outputs = outcome.summary, request.outputs
    if outcome.truncated:
        report_warning(f"in {outcome.truncated} image(s)/frame(s) all the anchors the exported one-stage model keeps "
                       "(its top_k, in the sidecar) passed --bbox-thr: instances may be missing there; raise "
                       "--bbox-thr")
    if summary.no_boxes and request.model.one_stage:
        count, total = sum(summary.no_boxes.values()), summary.images + summary.frames
        report_warning(f"the one-stage model found no instance in {count} of {total} image(s)/frame(s): lower "
                       "--bbox-thr (default: the config's test_cfg.score_thr), or check the weights")
    elif summary.no_boxes and not request.model.whole_image:
        _say_no_boxes(summary, request.model.det_bbox_thr, request.model.det_cat_id, bool(outcome.classes))
    if outputs.out_dir is not None or outcome.labelme_files is not None or outputs.tables:
        _say_low_scores(summary.records, request.draw.kpt_thr)


def _print_skipped(outcome) -> None:
    """Files in the folders of no known kind, and the inputs that could not be read (exit code 1)."""
    console, summary = err_console(), outcome.summary
    if outcome.ignored:
        console.print(f"ignored {outcome.ignored} file(s) in the folders that are neither images nor videos")
    if summary.skipped:
        console.print(f"[yellow]skipped {len(summary.skipped)} unreadable input(s):[/yellow]")
        for path, why in summary.skipped:
            console.print(f"  {path}: {why}")
        raise typer.Exit(1)


def _say_low_scores(records: list[dict], kpt_thr: float) -> None:
    """Every keypoint scored under --kpt-thr: the drawings (and pre-labels, tables) hold no keypoint at all."""
    top = max((s for r in records for s in r["keypoints"][2::3]), default=None)
    if top is not None and top < kpt_thr:
        report_warning(f"every keypoint scores below --kpt-thr {kpt_thr:g} (the highest is {top:.3g}): none is drawn; "
                       "lower --kpt-thr, or check the weights (an undertrained model scores low)")


def _say_no_boxes(summary, bbox_thr: float, det_cat_id, every_class: bool = False) -> None:
    """The detector found nothing in some inputs: their drawings are plain copies, so say so, with the two usual
    causes (a threshold above the detector's scores, another class index)."""
    count = sum(summary.no_boxes.values())
    total = summary.images + summary.frames
    names = ", ".join(list(summary.no_boxes)[:3]) + (", ..." if len(summary.no_boxes) > 3 else "")
    report_warning(f"the detector found no object in {count} of {total} image(s)/frame(s) ({names}): nothing "
                   f"is drawn on those; lower --bbox-thr (now {bbox_thr:g}) or check --det-cat-id (now "
                   f"{'every class' if every_class and not det_cat_id else ', '.join(map(str, det_cat_id or [0]))}"
                   ", the detector's class index; a one-class detector "
                   "trained by mmpx has 0)")
