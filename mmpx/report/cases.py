"""Which instances the gallery shows: the worst by OKS, and enough of each keypoint and group that every filter
finds its own worst; in a comparison, the instances whose OKS changed most between two runs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mmpx.report.scoring import Scored


@dataclass
class Case:
    """One ground-truth instance as the gallery shows it."""

    index: int  # into the matching's GT arrays
    ann_id: object
    image_id: object
    file_name: str
    oks: float
    worst: str | None  # the keypoint with the lowest OKS term; None: no prediction matched
    worst_px: float | None
    groups: list[str] = field(default_factory=list)
    top: bool = False  # among the overall worst (shown without a filter)
    image: str | None = None  # data URI of the drawn crop, filled later
    other_oks: float | None = None  # in a comparison: the baseline's OKS of the same instance
    other_image: str | None = None


def _case(scored: Scored, i: int, group_of: dict) -> Case:
    ann = scored.m.gt_anns[i]
    img = scored.images.get(ann["image_id"], {})
    k = int(scored.worst[i])
    return Case(i, ann.get("id"), ann["image_id"], str(img.get("file_name", ann["image_id"])),
                float(scored.oks[i]), scored.spec.names[k] if k >= 0 else None,
                float(scored.worst_px[i]) if k >= 0 else None, list(group_of.get(ann["image_id"], [])))


def order(scored: Scored) -> np.ndarray:
    """GT instance indices from the lowest OKS up; ties by annotation id, as listed in the GT file."""
    return np.lexsort((np.arange(len(scored.oks)), scored.oks)) if len(scored.oks) else np.zeros(0, int)


def worst_cases(scored: Scored, limit: int = 48, per_filter: int = 8) -> list[Case]:
    """The ``limit`` lowest-OKS instances, plus the ``per_filter`` lowest of each worst keypoint and of each group.

    Returns them from the worst; the first ``limit`` have ``top`` set.
    """
    ranked = order(scored)
    group_of = scored.group_of()
    chosen: dict[int, bool] = {}
    seen: dict[object, int] = {}  # cases kept so far per filter value
    for rank, i in enumerate(ranked.tolist()):
        ann = scored.m.gt_anns[i]
        keys = [("kpt", int(scored.worst[i]))] + [("group", g) for g in group_of.get(ann["image_id"], [])]
        if rank < limit or any(seen.get(k, 0) < per_filter for k in keys):
            chosen[i] = rank < limit
            for k in keys:
                seen[k] = seen.get(k, 0) + 1
    out = []
    for i in ranked:
        i = int(i)
        if i in chosen:
            case = _case(scored, i, group_of)
            case.top = chosen[i]
            out.append(case)
    return out


def by_annotation(scored: Scored) -> dict:
    """(image id, annotation id) -> index of that GT instance in the matching."""
    return {(a["image_id"], a.get("id")): i for i, a in enumerate(scored.m.gt_anns)}


def changed_cases(new: Scored, old: Scored, limit: int = 12) -> tuple[list[Case], list[Case]]:
    """(worse, better): instances of both runs' ground truth whose OKS fell / rose most from ``old`` to ``new``.

    Instances are the same when image id and annotation id agree; a change under 0.01 is left out.
    """
    old_index = by_annotation(old)
    pairs = [(i, old_index[key]) for key, i in by_annotation(new).items() if key in old_index]
    if not pairs:
        return [], []
    new_i, old_i = (np.asarray(p) for p in zip(*pairs, strict=True))
    delta = new.oks[new_i] - old.oks[old_i]
    group_of = new.group_of()

    def pick(indices, sign: int) -> list[Case]:
        cases = []
        for j in indices[:limit]:
            if sign * delta[j] < 0.01:  # the rest changed less, or the other way
                break
            case = _case(new, int(new_i[j]), group_of)
            case.other_oks = float(old.oks[old_i[j]])
            cases.append(case)
        return cases

    ranked = np.lexsort((np.arange(len(delta)), delta))
    return pick(ranked, -1), pick(ranked[::-1], 1)


def index_in(old: Scored, case: Case) -> int | None:
    """The index of ``case``'s instance in ``old``'s matching."""
    return by_annotation(old).get((case.image_id, case.ann_id))
