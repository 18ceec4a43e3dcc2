"""``mmpx suggest`` as a function: the unlabelled images (or video frames) worth labelling next, written with
pre-labels into a new folder (:mod:`mmpx.suggest` chooses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mmpx.app.models import ModelChoice


@dataclass(frozen=True)
class SuggestRequest:
    """What ``mmpx suggest`` was asked.

    Attributes:
        inputs: unlabelled images, videos or folders of them. out: the new folder to write.
        model: the pose model and its boxes. n: how many to choose. strategy: diverse, uncertainty or random.
        frame_step: every N-th frame of a video is a candidate. exclude: folders of images already labelled.
        seed, kpt_thr, labelme_label: the clustering's seed; pre-label points under kpt_thr are flagged 'check';
            the label of each pre-label rectangle.
        progress: show a progress bar.
    """

    inputs: list[Path]
    out: Path
    model: ModelChoice
    n: int = 50
    strategy: str = "diverse"
    frame_step: int = 10
    exclude: list[Path] = field(default_factory=list)
    seed: int = 0
    kpt_thr: float = 0.3
    labelme_label: str = "object"
    progress: bool = True


def suggest(request: SuggestRequest):
    """Score every candidate, choose ``request.n`` and write them; the :class:`~mmpx.suggest.run.SuggestReport`."""
    from mmpx.convert.output import check_out
    from mmpx.infer.frames import frame_count
    from mmpx.infer.inputs import collect
    from mmpx.infer.runner import progress_bar
    from mmpx.suggest.run import labelled_hashes
    from mmpx.suggest.run import suggest as run_suggest

    sources, _ = collect(request.inputs)
    request.model.check()
    check_out(request.out, overwrite=False, inputs=request.inputs)
    hashes = labelled_hashes(request.exclude)
    request.model.trust()
    # no flip test: the mirrored prediction is made (and compared) by suggest itself
    model = request.model.load_pose(flip_test=False)
    boxes = model if getattr(model, "one_stage", False) else request.model.load_boxes()  # one-stage: its own
    step = request.frame_step
    total = sum(-(-frame_count(s.path) // step) if s.kind == "video" else 1 for s in sources)
    with progress_bar(total, enabled=request.progress) as bar:
        task = bar.add_task("scoring", total=total)
        return run_suggest(sources, model, boxes, request.out, request.n, strategy=request.strategy,
                           seed=request.seed, frame_step=step, kpt_thr=request.kpt_thr, label=request.labelme_label,
                           exclude=hashes, inputs=request.inputs, advance=lambda: bar.advance(task))


__all__ = ["SuggestRequest", "suggest"]
