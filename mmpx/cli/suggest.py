"""``mmpx suggest INPUT... --out DIR``: the unlabelled images (or video frames) worth labelling next, with
pre-labels, in a folder ready for labelme."""

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
from mmpx.cli._options import CfgOptionsOpt, JsonOpt, TrustCheckpointOpt
from mmpx.cli._output import err_console, out_console


class Strategy(StrEnum):
    diverse = "diverse"
    uncertainty = "uncertainty"
    random = "random"


@guarded(inputs=("inputs", "exclude", "pose", "weights", "det_config", "det_weights"), outputs=("out",))
def suggest(
    inputs: Annotated[list[Path], typer.Argument(
        help="Unlabelled images, videos, or folders of them (searched recursively).", show_default=False)],
    out: Annotated[Path, typer.Option(
        "--out", help="New folder for the chosen images (video frames as JPEG) with their labelme pre-labels and "
        "suggest.json (the ranking).", show_default=False)],
    n: Annotated[int, typer.Option("--n", help="How many images/frames to choose.", min=1)] = 50,
    strategy: Annotated[Strategy, typer.Option(
        "--strategy", help="diverse: the least certain image of each of n clusters (appearance and predicted pose); "
        "uncertainty: the n least certain; random: n at random (a baseline).")] = Strategy.diverse,
    frame_step: Annotated[int, typer.Option(
        "--frame-step", help="Consider every N-th frame of a video.", min=1)] = 10,
    exclude: Annotated[list[Path] | None, typer.Option(
        "--exclude", help="Folder of images already labelled (a labelme folder or a converted dataset): images with "
        "the same content are never suggested. Repeatable.", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the clustering and of random.")] = 0,
    kpt_thr: Annotated[float, typer.Option(
        "--kpt-thr", help="Pre-label points scoring under this are flagged 'check'.")] = 0.3,
    labelme_label: Annotated[str, typer.Option(
        "--labelme-label", help="The label of each pre-label rectangle.")] = "object",
    pose: PoseOpt = None,
    weights: WeightsOpt = None,
    det_config: DetConfigOpt = None,
    det_weights: DetWeightsOpt = None,
    det_cat_id: DetCatIdOpt = None,
    whole_image: WholeImageOpt = False,
    class_name: ClassOpt = None,
    bbox_thr: BboxThrOpt = None,
    nms_thr: NmsThrOpt = None,
    device: DeviceOpt = "cpu",
    backend: BackendOpt = Backend.torch,
    threads: ThreadsOpt = None,
    cfg_options: CfgOptionsOpt = None,
    trust_checkpoint: TrustCheckpointOpt = False,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="Do not show the progress bar.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Choose which unlabelled images or video frames to label next, and write them with pre-labels.

    Each candidate is scored by how unsure the model is about it (its keypoints against those it predicts on the
    mirrored image, and its keypoint scores); --strategy diverse then takes the least certain of each of --n
    clusters, so 50 near-identical frames are never all chosen. Open --out in labelme, correct the points
    (flagged ones first), then add them with mmpx convert labelme OUT DATASET --append (docs/guides/labelling.md).
    """
    import json

    from mmpx.app.suggest import SuggestRequest
    from mmpx.app.suggest import suggest as run_suggest

    choice = model_choice(pose, weights, det_config, det_weights, det_cat_id, whole_image, bbox_thr, nms_thr, device,
                          backend, threads, cfg_options, trust_checkpoint, class_name)
    if class_name is not None and labelme_label == "object":  # a class's rectangle names it (convert --classes)
        labelme_label = class_name
    report = run_suggest(SuggestRequest(inputs, out, choice, n, strategy.value, frame_step, exclude or [], seed,
                                        kpt_thr, labelme_label, progress=not no_progress))
    if as_json:
        typer.echo(json.dumps(json.loads((out / "suggest.json").read_text()), indent=2))
    else:
        _print(report, out)


def _print(report, out: Path) -> None:
    from rich.table import Table

    table = Table(title=f"mmpx suggest: {len(report.chosen)} of {report.candidates} candidate(s)")
    for column in ("rank", "image / frame", "uncertainty", "flip disagreement", "mean score", "instances"):
        table.add_column(column, justify="left" if column == "image / frame" else "right")
    for rank, c in enumerate(report.chosen[:20], start=1):
        signals = (f"{c.disagreement:.3f}", f"{c.confidence:.3f}") if c.instances else ("-", "-")  # a miss
        table.add_row(str(rank), c.name, f"{c.uncertainty:.3f}", *signals, str(c.instances))
    out_console().print(table)  # the table to stdout, notes to stderr
    console = err_console()
    if len(report.chosen) > 20:
        console.print(f"... and {len(report.chosen) - 20} more in {out / 'suggest.json'}")
    notes = [f"written to {out} with labelme pre-labels ({report.seconds:.1f} s)"]
    if report.excluded:
        notes.append(f"{report.excluded} image(s) already labelled (--exclude) left out")
    if report.without_instances:
        notes.append(f"{report.without_instances} candidate(s) had no box (detector misses rank as most uncertain)")
    console.print("; ".join(notes))
    for path, why in report.skipped:
        console.print(f"[yellow]skipped[/yellow] {path}: {why}")
