"""``mmpx infer`` as a function: a request in (inputs, model, what to write, how to draw, the video switches), the
run's outcome out; and the rules of the video switches, which the Python API follows too."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.app.models import ModelChoice
from mmpx.errors import MmpxError
from mmpx.infer.runner import DrawOptions, Summary
from mmpx.infer.sequence import SequenceOptions
from mmpx.infer.smooth import OneEuroParams
from mmpx.infer.track import TrackParams


def sequence_options(track: bool | TrackParams = False, smooth: bool | OneEuroParams = False, *,
                     det_every: int = 1, batch_frames: int = 4, tables: bool = False, kpt_thr: float = 0.3,
                     track_params: TrackParams | None = None) -> SequenceOptions:
    """How videos are processed, from the switches of ``mmpx infer`` and ``PoseEstimator.run``, checked.

    Tracking is on with ``track``, and turned on by ``smooth``, a trajectory table (``tables``) and ``det_every``
    above 1. ``True`` takes the default parameters: ``track_params`` if given, else keypoints under ``kpt_thr``
    left out of matching; the One-Euro defaults for ``smooth``.
    """
    if isinstance(track, TrackParams):
        track, track_params = True, track
    smooth = OneEuroParams() if smooth is True else smooth or None
    on = bool(track) or smooth is not None or tables or det_every > 1
    params = (track_params or TrackParams(kpt_thr=kpt_thr)) if on else None
    options = SequenceOptions(track=params, smooth=smooth, det_every=det_every, batch_frames=batch_frames)
    options.check()
    return options


@dataclass(frozen=True)
class VideoSwitches:
    """``--track`` (with ``--track-max-missing``/``--track-max-distance`` as ``track_params``), ``--smooth`` (its
    One-Euro parameters, or None), ``--det-every`` and ``--batch-frames``."""

    track: bool = False
    smooth: OneEuroParams | None = None
    det_every: int = 1
    batch_frames: int = 4
    track_params: TrackParams | None = None


@dataclass(frozen=True)
class InferOutputs:
    """What ``mmpx infer`` writes: drawings (``out_dir``), COCO results, labelme pre-labels, trajectory tables."""

    out_dir: Path | None = None
    save_json: Path | None = None
    save_labelme: Path | None = None
    labelme_label: str = "object"
    save_csv: Path | None = None
    save_parquet: Path | None = None
    save_as: Path | None = None  # predictions for SLEAP, NWB, Label Studio or DeepLabCut (sleapio_out)

    @property
    def tables(self) -> list[Path]:
        return [p for p in (self.save_csv, self.save_parquet) if p is not None]

    def check(self) -> None:
        """Something to write, and every output writable, before any model is loaded."""
        if (self.out_dir is None and self.save_json is None and not self.tables and self.save_labelme is None
                and self.save_as is None):
            raise MmpxError("nothing to write: give --out-dir DIR (drawn images/videos), --save-json FILE, "
                            "--save-csv FILE, --save-labelme DIR and/or --save-as FILE",
                            "e.g. --out-dir out/ --save-json out/results.json")
        if self.save_as is not None and self.save_csv is not None and \
                self.save_as.resolve() == self.save_csv.resolve():  # both may end in .csv now (DeepLabCut)
            raise MmpxError(f"--save-as and --save-csv both write {self.save_as}",
                            "give them two files, e.g. --save-as preds_dlc.csv --save-csv trajectories.csv")

    def check_writable(self) -> None:
        from mmpx.atomic import check_writable
        from mmpx.infer.trajectories import check_table_path

        if self.out_dir is not None:  # now, not after the last image
            check_writable(self.out_dir, "--out-dir", folder=True)
        if self.save_json is not None:
            check_writable(self.save_json, "--save-json")
        if self.save_labelme is not None:
            check_writable(self.save_labelme, "--save-labelme", folder=True)
        if self.save_csv is not None:
            check_table_path(self.save_csv, "--save-csv")
        if self.save_parquet is not None:
            check_table_path(self.save_parquet, "--save-parquet")
        if self.save_as is not None:
            from mmpx.infer.sleapio_out import check_save_as

            check_save_as(self.save_as)


@dataclass(frozen=True)
class InferRequest:
    """What ``mmpx infer`` was asked: inputs (images, videos, folders), the model, the outputs, the drawing, the
    video switches, the batch size and flip test of the pose model, and whether to show a progress bar."""

    inputs: list[Path]
    model: ModelChoice
    outputs: InferOutputs
    draw: DrawOptions = field(default_factory=DrawOptions)
    video: VideoSwitches = field(default_factory=VideoSwitches)
    batch_size: int = 32
    flip_test: bool | None = None
    progress: bool = True


@dataclass
class InferOutcome:
    """What a run of ``mmpx infer`` did: the runner's summary, the box source's name, the model's keypoint
    metainfo, the labelme files written (None without ``--save-labelme``) and the files of no known kind."""

    summary: Summary
    boxes: str
    dataset_meta: dict
    labelme_files: int | None = None
    ignored: int = 0
    saved_frames: int | None = None  # frames written to --save-as
    dropped: dict = field(default_factory=dict)  # detector class -> boxes dropped (no pose class of that name)
    classes: list = field(default_factory=list)  # the classes of a run with boxes of several classes
    truncated: int = 0  # one-stage: images whose every kept anchor passed the score threshold (some may be cut)


def _check(request: InferRequest) -> SequenceOptions:
    """Everything that can be found wrong before a model is loaded; the video processing it leads to."""
    request.model.check()
    request.outputs.check()
    if request.draw.draw_heatmap and request.outputs.out_dir is None:
        raise MmpxError("--draw-heatmap draws into --out-dir, which is not given", "add --out-dir DIR")
    video = request.video
    sequence = sequence_options(video.track, video.smooth or False, det_every=video.det_every,
                                batch_frames=video.batch_frames, tables=bool(request.outputs.tables),
                                kpt_thr=request.draw.kpt_thr, track_params=video.track_params)
    if request.model.one_stage and (video.det_every > 1 or request.draw.draw_heatmap):
        raise MmpxError("--det-every and --draw-heatmap work with a top-down model: a one-stage model finds every "
                        "frame's instances in one run of its own, and gives no heatmaps", "leave them out")
    if request.draw.draw_heatmap and sequence.track is not None:
        raise MmpxError("--draw-heatmap works frame by frame: it does not combine with --track, --smooth, "
                        "--save-csv, --save-parquet or --det-every", "leave out --draw-heatmap, or those")
    if sequence.track is not None:
        from mmpx.infer.track import check_tracker

        check_tracker()
    request.outputs.check_writable()
    return sequence


def infer(request: InferRequest) -> InferOutcome:
    """Run the pose model on every input and write what ``request.outputs`` asks for."""
    from mmpx.infer.inputs import collect
    from mmpx.infer.runner import run

    sources, ignored = collect(request.inputs)
    sequence = _check(request)
    if request.outputs.save_as is not None:
        from mmpx.infer.sleapio_out import check_sources

        check_sources(request.outputs.save_as, sources)
    outputs, choice = request.outputs, request.model
    # the folders' locks for the whole run, taken before the model loads: a second run is refused at once
    with hold_folders({"--out-dir": outputs.out_dir, "--save-labelme": outputs.save_labelme}):
        choice.trust()
        model, boxes = choice.load(request.batch_size, request.flip_test)
        _check_mixed(request, model)
        if request.draw.draw_heatmap and outputs.out_dir is not None and not hasattr(model, "predict_with_heatmaps"):
            raise MmpxError(f"--draw-heatmap: the {choice.backend} backend gives no heatmaps",
                            "use --backend torch with --pose and --weights")
        labelme = _labelme_sink(request, model)
        summary = run(sources, model, boxes, out_dir=outputs.out_dir, save_json=outputs.save_json,
                      draw=request.draw, progress=request.progress, sequence=sequence,
                      save_tables=outputs.tables, labelme=labelme)
    saved = _save_as(request, summary, sources, model.dataset_meta)
    return InferOutcome(summary, boxes.name, model.dataset_meta, labelme.files if labelme else None, ignored, saved,
                        dict(getattr(boxes, "dropped", {})), [m["class_name"] for m in getattr(model, "metas", [])],
                        int(getattr(boxes, "truncated", 0)))


def _check_mixed(request: InferRequest, model) -> None:
    """What boxes of several classes in one run cannot give, said before the first image."""
    from mmpx.infer.mixed import MixedModel

    if not isinstance(model, MixedModel):
        return
    if request.outputs.save_as is not None:
        raise MmpxError(f"--save-as {request.outputs.save_as}: a SLEAP/NWB/Label Studio/DeepLabCut file has one "
                        "skeleton, and the boxes here are of several classes",
                        "run once per class with --class NAME (and --det-cat-id), or use --save-json/--save-csv")
    if request.draw.draw_heatmap:
        raise MmpxError("--draw-heatmap draws one class's heatmaps: the boxes here are of several classes",
                        "leave out --draw-heatmap, or give the class of every box with --class NAME")


def _save_as(request: InferRequest, summary, sources, meta: dict) -> int | None:
    """Write ``--save-as``'s file from the run's records; the frames written (None without it)."""
    if request.outputs.save_as is None:
        return None
    from mmpx.infer.sleapio_out import save_for_model

    return save_for_model(request.outputs.save_as, summary.records, {s.name: s.path for s in sources}, meta,
                          request.draw.kpt_thr)


def _labelme_sink(request: InferRequest, model):
    """The writer of ``--save-labelme``'s pre-labels, or None."""
    outputs = request.outputs
    if outputs.save_labelme is None:
        return None
    from mmpx.infer.classes import instance_class
    from mmpx.infer.labelme_out import LabelmeSink
    from mmpx.infer.results import keypoint_names

    choice = request.model
    label = outputs.labelme_label  # a multi-class model's class names its rectangles (convert --classes reads it)
    if label == "object" and instance_class(model.dataset_meta)[1] is not None:
        label = instance_class(model.dataset_meta)[1]
    return LabelmeSink(outputs.save_labelme, keypoint_names(model.dataset_meta), label,
                       request.draw.kpt_thr, source=f"mmpx infer ({(choice.weights or choice.pose).name})")


@contextlib.contextmanager
def hold_folders(folders: dict) -> Iterator[None]:
    """Hold the lock of every given output folder (option -> path or None) for the block."""
    from mmpx.atomic.lock import hold

    with contextlib.ExitStack() as stack:
        for option, folder in folders.items():
            if folder is not None:
                stack.enter_context(hold(folder, f"{option} folder"))
        yield


__all__ = ["InferOutcome", "InferOutputs", "InferRequest", "VideoSwitches", "hold_folders", "infer",
           "sequence_options"]
