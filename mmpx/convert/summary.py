"""What a conversion did: counts, skipped files with reasons, warnings. Written as ``OUT/report.json``."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError


class FileProblem(MmpxError):
    """One input file is unusable; without ``--strict`` it is skipped and listed in the report."""

    def __init__(self, file: str, problem: str, hint: str | None = None) -> None:
        super().__init__(f"{file}: {problem}", hint)
        self.file = file
        self.problem = problem


@dataclass
class Report:
    """The outcome of one conversion (``OUT/report.json``).

    Attributes:
        converter: ``labelme``, ``yolo`` or ``to-yolo``.
        src: the input file or folder.
        out: the output folder.
        images_mode: ``copy``, ``link`` or ``none``.
        files_read: input annotation files found.
        files_converted: files that made it into the output.
        skipped: ``{"file", "reason", "hint"}`` per skipped file.
        warnings: ``{"file", "message"}`` for things converted that deserve a look (e.g. empty rectangles).
        images: images written per split, e.g. ``{"train": 80, "val": 20}``.
        images_without_instances: images kept with no annotation (negatives).
        instances: annotations written.
        instances_without_keypoints: annotations with no labelled keypoint.
        keypoint_names: keypoint names in annotation order.
        keypoints_source: where the names came from (``--keypoints``, ``--metainfo``, inferred, ...).
        keypoints_labelled: per keypoint name, how many instances label it.
        visibility: counts of labelled keypoints by COCO visibility (``"1"`` occluded, ``"2"`` visible).
        skipped_shapes: shapes ignored, by type (labelme polygons, circles, ...).
        outputs: paths written, relative to ``out``.
        seconds: wall time.
        classes: with several classes (``--classes``), per class ``{"id", "name", "keypoints", "instances",
            "instances_without_keypoints", "keypoints_labelled"}`` (its own names); absent from report.json for
            one class.
    """

    converter: str
    src: str
    out: str
    images_mode: str = ""
    files_read: int = 0
    files_converted: int = 0
    skipped: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    images: dict[str, int] = field(default_factory=dict)
    images_without_instances: int = 0
    instances: int = 0
    instances_without_keypoints: int = 0
    keypoint_names: list[str] = field(default_factory=list)
    keypoints_source: str = ""
    keypoints_labelled: dict[str, int] = field(default_factory=dict)
    visibility: dict[str, int] = field(default_factory=dict)
    skipped_shapes: dict[str, int] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    classes: list[dict] = field(default_factory=list)

    def skip(self, problem: FileProblem) -> None:
        self.skipped.append(dict(file=problem.file, reason=problem.problem, hint=problem.hint))

    def warn(self, file: str, message: str) -> None:
        self.warnings.append(dict(file=file, message=message))

    def add_counts(self, labelled: Counter, visibility: Counter, shapes: Counter) -> None:
        """Fold the hot loop's counters in (kept as Counters there: cheaper than dict updates per point)."""
        self.keypoints_labelled = {name: labelled.get(name, 0) for name in self.keypoint_names}
        self.visibility = {str(v): visibility.get(v, 0) for v in (1, 2)}
        self.skipped_shapes = dict(sorted(shapes.items()))

    def as_dict(self) -> dict:
        data = asdict(self)
        if not data["classes"]:  # a one-class report stays as it was
            del data["classes"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False) + "\n"

    def write(self, folder: str | Path) -> None:
        Path(folder, "report.json").write_text(self.to_json(), encoding="utf-8")


def nothing_converted(report: Report, total: int, src) -> MmpxError:
    """The error for a conversion in which every input file was skipped (no empty dataset is written)."""
    first = report.skipped[0]
    return MmpxError(
        f"nothing converted: all {total} file(s) under {src} were skipped, e.g. {first['file']}: {first['reason']}",
        first.get("hint") or "fix the files (mmpx check data describes what a file needs)",
    )
