"""Several object classes in ``mmpx convert labelme --classes car,bicycle``: each instance's class is its
rectangle's label, each class has its own keypoints (from ``--metainfo`` or discovered from its instances).

The output is a multi-category COCO file (one category per class, its own keypoint names) and a multi-class
metainfo (:mod:`mmpx.metainfo.classes`). Without ``--classes``, :func:`label_warning` notices rectangles whose
labels look like classes with different keypoints and says how to convert them as classes.
See ``docs/guides/multiclass.md``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mmpx.convert.labelme_read import LabelmeFile
from mmpx.convert.output import skeleton_and_swaps
from mmpx.convert.summary import FileProblem
from mmpx.errors import MmpxError
from mmpx.metainfo import keypoint_names, load_metainfo
from mmpx.metainfo.classes import SEP, class_specs

GUIDE = "docs/guides/multiclass.md"


@dataclass(frozen=True)
class ClassJob:
    """What a worker needs to classify instances: class name -> (COCO id, its own keypoint names or None when
    they are discovered)."""

    classes: Mapping[str, tuple[int, frozenset[str] | None]]

    @property
    def hint(self) -> str:
        return f"known classes: {', '.join(self.classes)} (--classes); label each instance's rectangle with its class"


def parse_classes(classes: str | Sequence[str]) -> list[str]:
    """``car,bicycle`` -> ``["car", "bicycle"]``: two or more distinct names without ``/``.

    Raises:
        MmpxError: fewer than two names, a repeated name, a name holding ``/``.
    """
    names = [c.strip() for c in classes.split(",")] if isinstance(classes, str) else [str(c) for c in classes]
    names = [c for c in names if c]
    if len(names) < 2:
        raise MmpxError(f"--classes names {len(names)} class(es); several classes need two or more",
                        "e.g. --classes car,bicycle; for one class, leave --classes out")
    for name in names:
        if SEP in name:
            raise MmpxError(f"--classes: class name {name!r} holds {SEP!r}", "rename the class (its rectangles too)")
    if len(set(names)) != len(names):
        raise MmpxError(f"--classes names {', '.join(sorted({c for c in names if names.count(c) > 1}))} twice",
                        "list each class once")
    return names


def class_spec(classes: str | Sequence[str], metainfo: Sequence[str | Path] = ()) -> list[dict]:
    """Per class (in ``--classes`` order, or the metainfo file's): ``id``, ``name``, ``keypoints`` (empty when
    discovered), ``skeleton``, ``swaps``, ``sigmas``, ``joint_weights``, ``source``.

    ``metainfo``: one multi-class file (its ``classes`` must be the ``--classes``), or one-class files, one per
    class at most, each naming its class by its ``dataset_name``.

    Raises:
        MmpxError: bad ``--classes``, a file whose class is not in ``--classes``, two files for one class.
    """
    names = parse_classes(classes)
    given: dict[str, dict] = {}
    for path in metainfo:
        info = load_metainfo(path)
        specs = class_specs(info, str(path))
        if specs is not None:
            if len(metainfo) > 1:
                raise MmpxError(f"--metainfo {path} is a multi-class file, given with other --metainfo files",
                                "give one multi-class file, or one one-class file per class")
            if sorted(s["name"] for s in specs) != sorted(names):
                raise MmpxError(f"--metainfo {path} has the classes {', '.join(s['name'] for s in specs)}, "
                                f"--classes names {', '.join(names)}", "make --classes the file's classes")
            return [dict(s, source=f"--metainfo {path}") for s in specs]
        name = info.get("dataset_name")
        if name not in names:
            raise MmpxError(f"--metainfo {path}: its dataset_name {name!r} is none of the classes "
                            f"{', '.join(names)}", "with --classes, each --metainfo file's dataset_name names its "
                            "class: set dataset_name='car' in the file")
        if name in given:
            raise MmpxError(f"--metainfo: two files for the class {name!r}", "give one file per class")
        skeleton, swaps = skeleton_and_swaps(info)
        given[name] = dict(keypoints=keypoint_names(info), skeleton=skeleton, swaps=swaps,
                           sigmas=info.get("sigmas"), joint_weights=info.get("joint_weights"),
                           source=f"--metainfo {path}")
    empty = dict(keypoints=[], skeleton=[], swaps=None, sigmas=None, joint_weights=None,
                 source="inferred from the point labels (sorted)")
    return [dict(given.get(name, empty), id=i, name=name) for i, name in enumerate(names, 1)]


def class_job(spec: Sequence[Mapping]) -> ClassJob:
    return ClassJob({c["name"]: (c["id"], frozenset(c["keypoints"]) if c["keypoints"] else None) for c in spec})


def known_points(spec: Sequence[Mapping]) -> frozenset[str] | None:
    """The point labels any class may use (what :func:`~mmpx.convert.labelme_read.read_labelme` accepts); None
    while some class's keypoints are discovered."""
    if any(not c["keypoints"] for c in spec):
        return None
    return frozenset(k for c in spec for k in c["keypoints"])


def classify(lf: LabelmeFile, instances: list, job: ClassJob) -> list[tuple[int, str, list, list]]:
    """``(category id, class, bbox, points)`` per instance; group_instances lists the rectangles' instances
    first, in the rectangles' order, then those without a rectangle.

    Raises:
        FileProblem: a rectangle labelled with no known class, an instance without a rectangle, a point label
            that is not a keypoint of its instance's class.
    """
    out = []
    for j, (bbox, points) in enumerate(instances):
        if j >= len(lf.rects):
            number, name = points[0][0], points[0][1]
            raise FileProblem(lf.path, f"point {name!r} (shape {number}) belongs to no rectangle, so to no class",
                              "with --classes, draw each instance's rectangle, labelled with its class "
                              f"({', '.join(job.classes)}), and give it the points' group_id")
        rect = lf.rects[j]
        if rect.label not in job.classes:
            raise FileProblem(lf.path, f"rectangle {rect.label!r} (shape {rect.number}) names no class of "
                              "--classes", job.hint)
        cid, known = job.classes[rect.label]
        for number, name, *_ in points:
            if known is not None and name not in known:
                raise FileProblem(lf.path, f"point {name!r} (shape {number}) is no keypoint of the class "
                                  f"{rect.label!r} (rectangle, shape {rect.number})",
                                  f"keypoints of {rect.label!r}: {', '.join(sorted(known))}")
        out.append((cid, rect.label, bbox, points))
    return out


def label_stats(lf: LabelmeFile, instances: list, stats: dict) -> None:
    """Count, per rectangle label, its instances and the keypoint names they use (for :func:`label_warning`)."""
    for rect, (_, points) in zip(lf.rects, instances, strict=False):
        entry = stats.setdefault(rect.label, [0, set()])
        entry[0] += 1
        entry[1].update(p[1] for p in points)


def merge_stats(into: dict, stats: dict) -> None:
    for label, (count, names) in stats.items():
        entry = into.setdefault(label, [0, set()])
        entry[0] += count
        entry[1] |= names


def label_warning(stats: Mapping[str, list]) -> str | None:
    """The one warning of a one-class conversion whose rectangles carry several labels with different keypoint
    sets, two of them neither within the other (labels whose instances have no keypoints are left out); None
    when there is nothing to say."""
    used = {label: entry for label, entry in stats.items() if entry[1]}
    sets = [entry[1] for entry in used.values()]
    # one label's keypoints within another's may be partial labelling of one class: only sets that overlap
    # neither way look like classes
    if not any(not (a <= b or b <= a) for i, a in enumerate(sets) for b in sets[i + 1:]):
        return None
    order = sorted(used, key=lambda label: (-used[label][0], label))
    counts = " and ".join(f"{label} ({used[label][0]})" for label in order)
    return (f"rectangles are labelled {counts} with different keypoints: for one model of both, convert with "
            f"--classes {','.join(order)} ({GUIDE})")


__all__ = ["ClassJob", "class_job", "class_spec", "classify", "known_points", "label_stats", "label_warning",
           "merge_stats", "parse_classes"]
