"""The ``mmpx suggest`` pipeline: score every candidate, pick, write the picks with pre-labels.

The output folder is built beside itself and renamed into place when complete (as a conversion is), so a failed
or interrupted run leaves nothing half-written: ``OUT/<name>`` + ``OUT/<name>.json`` per pick (a video's frames
as ``OUT/<video>/frame_000120.jpg``), ready for labelme's Open Dir, and ``OUT/suggest.json``, the ranking.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.check.images import decode_image
from mmpx.errors import MmpxError
from mmpx.infer.inputs import IMAGE_EXTS, Source
from mmpx.suggest.score import Candidate, combine, score
from mmpx.suggest.select import select

SCHEMA = "mmpx-suggest/1"


@dataclass
class SuggestReport:
    candidates: int = 0
    chosen: list[Candidate] = field(default_factory=list)
    excluded: int = 0  # images whose content is already labelled (--exclude)
    without_instances: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    seconds: float = 0.0


def image_hash(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def labelled_hashes(folders: list[Path]) -> set[str]:
    """Content hashes of every image under ``folders`` (a labelme folder or a converted dataset)."""
    hashes = set()
    for folder in folders:
        if not folder.is_dir():
            raise MmpxError(f"--exclude {folder} is not a folder", "give the folder of labelled images or dataset")
        for path in folder.rglob("*"):
            if path.suffix.lower() in IMAGE_EXTS and path.is_file():
                hashes.add(image_hash(path))
    return hashes


def candidates(sources: list[Source], model, boxes, flip_indices, frame_step: int, report: SuggestReport,
               exclude: set[str], advance: Callable[[], None] = lambda: None) -> list[Candidate]:
    """Every image, and every ``frame_step``-th frame of each video, scored."""
    from mmpx.infer.frames import FrameReader

    found = []
    for src in sources:
        if src.kind == "image":
            if exclude and image_hash(src.path) in exclude:
                report.excluded += 1
            else:
                image, why = decode_image(src.path)
                if image is None:
                    report.skipped.append((str(src.path), why))
                else:
                    found.append(score(model, boxes, image, src.name, str(src.path), None, flip_indices))
            advance()
            continue
        with FrameReader(src.path) as reader:
            if reader.first is None:
                report.skipped.append((str(src.path), reader.problem))
            for index, frame in enumerate(reader):
                if index % frame_step == 0:
                    found.append(score(model, boxes, frame, f"{src.name}#frame={index}", str(src.path), index,
                                       flip_indices))
                    advance()
    return found


def suggest(sources: list[Source], model, boxes, out: str | Path, n: int, *, strategy: str = "diverse",
            seed: int = 0, frame_step: int = 10, kpt_thr: float = 0.3, label: str = "object",
            exclude: set[str] = frozenset(), inputs: list[Path] = (), advance: Callable[[], None] = lambda: None,
            ) -> SuggestReport:
    """Pick ``n`` of ``sources``' images and frames to label next and write them with pre-labels into ``out``.

    Args:
        model: the pose-model interface (``predict(image, bboxes)``, ``dataset_meta`` with ``flip_indices``); run
            without flip test (the mirrored prediction is made here, separately).
        boxes: ``boxes(image) -> (xyxy, scores)``.
        out: a new or empty folder.
        strategy: ``diverse``, ``uncertainty`` or ``random`` (:mod:`mmpx.suggest.select`).
        frame_step: every how many frames of a video is a candidate.
        exclude: content hashes of images already labelled (:func:`labelled_hashes`).
        inputs: the folders read (``out`` may not be or lie in them).
    """
    from mmpx.convert.output import check_out, staged_output
    from mmpx.infer.results import keypoint_names

    start = time.perf_counter()
    out = Path(out)
    check_out(out, overwrite=False, inputs=inputs)  # now, before the model runs over every candidate
    if flip_test_on(model):
        raise MmpxError("the pose model averages each crop with its mirror image (flip test), so its two "
                        "predictions would agree by construction", "load it with flip_test=False")
    meta = model.dataset_meta
    names = keypoint_names(meta)
    flip_indices = meta.get("flip_indices") or list(range(len(names)))
    report = SuggestReport()
    found = candidates(sources, model, boxes, flip_indices, frame_step, report, exclude, advance)
    report.candidates = len(found)
    report.without_instances = sum(not c.instances for c in found)
    if not found:
        raise MmpxError("no candidate image or frame to choose from", "check the inputs and --exclude")
    combine(found)
    report.chosen = select(found, n, strategy, seed)
    with staged_output(out, overwrite=False, inputs=inputs) as stage:
        _write(stage, report.chosen, names, label, kpt_thr)
        _write_ranking(stage / "suggest.json", report, strategy, seed, n)
    report.seconds = time.perf_counter() - start
    return report


def flip_test_on(model) -> bool:
    """Whether ``model`` (ONNX Runtime or torch) flips each crop itself."""
    if isinstance(getattr(model, "flip_test", None), bool):
        return model.flip_test
    test_cfg = getattr(getattr(model, "model", None), "test_cfg", None) or {}
    return bool(test_cfg.get("flip_test", False))


def _write(stage: Path, chosen: list[Candidate], names, label: str, kpt_thr: float) -> None:
    from mmpx.infer.frames import FrameReader
    from mmpx.infer.labelme_out import LabelmeSink

    sink = LabelmeSink(stage, names, label, kpt_thr, source="mmpx suggest")
    frames: dict[str, dict[int, Candidate]] = {}
    for c in chosen:
        if c.frame is None:
            image, _ = decode_image(Path(c.path))
            sink.image(Source(Path(c.path), c.name, "image"), image, *c.prediction)
        else:
            frames.setdefault(c.path, {})[c.frame] = c
    for path, wanted in frames.items():  # a second pass over each video for its chosen frames
        video = Source(Path(path), next(iter(wanted.values())).name.split("#frame=")[0], "video")
        last, written = max(wanted), 0
        with FrameReader(path) as reader:
            for index, frame in enumerate(reader):
                if index in wanted:
                    sink.frame(video, index, frame, *wanted[index].prediction)
                    written += 1
                if index >= last:
                    break
        if written != len(wanted):  # the file changed (or decodes differently) since it was scored
            raise MmpxError(f"{path}: {len(wanted) - written} chosen frame(s) could not be read again",
                            "make sure the video is not being written to, and run mmpx suggest again")


def _write_ranking(path: Path, report: SuggestReport, strategy: str, seed: int, n: int) -> None:
    from mmpx.atomic import write_json
    from mmpx.infer.labelme_out import FRAME_NAME, frame_folder

    rows = []
    for rank, c in enumerate(report.chosen, start=1):
        if c.frame is None:
            written = c.name
        else:
            video = Source(Path(c.path), c.name.split("#frame=")[0], "video")
            written = f"{frame_folder(video)}/{FRAME_NAME.format(c.frame)}.jpg"
        measured = c.instances > 0  # a detector miss has no instance to measure: null, not a made-up 0
        rows.append(dict(rank=rank, name=c.name, source=c.path, frame=c.frame, file=written,
                         uncertainty=round(c.uncertainty, 4),
                         flip_disagreement=round(c.disagreement, 4) if measured else None,
                         mean_score=round(c.confidence, 4) if measured else None, instances=c.instances))
    write_json(path, dict(schema=SCHEMA, strategy=strategy, seed=seed, n=n, candidates=report.candidates,
                          excluded=report.excluded, without_instances=report.without_instances,
                          skipped=[dict(file=f, reason=r) for f, r in report.skipped], chosen=rows))
