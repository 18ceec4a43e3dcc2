"""The page's sections as plain data for the template: metrics, curves, per-keypoint tables, groups, the gallery
of worst cases and, in a comparison, the cases that changed."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from mmpx.evaluation import tables
from mmpx.report import cases as cases_
from mmpx.report.charts import keypoint_bars
from mmpx.report.crops import case_uri
from mmpx.report.scoring import Scored, group_rows


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_rows(metrics: dict, baseline: dict | None = None) -> list[dict]:
    """One row per metric; with ``baseline``, its value, the change and whether the change is for the better."""
    if baseline is None:
        return [dict(key=k, value=v) for k, v in metrics.items() if _finite(v)]
    rows = []
    for row in tables.compare(baseline, metrics):
        delta = row.delta
        better = None if not delta else (delta < 0) == tables.lower_is_better(row.key)
        rows.append(dict(key=row.key, value=row.b, base=row.a, delta=delta, better=better))
    return rows


def _draw(scored: Scored, case: cases_.Case, images: Path | None, index: int | None = None) -> str | None:
    i = case.index if index is None else index
    m = scored.m
    pred = m.matched_pred_xy[i] if m.gt_pred[i] >= 0 else None
    return case_uri(images, case.file_name, m.gt_bbox[i], m.gt_xy[i], m.gt_vis[i], pred, scored.spec.skeleton,
                    int(scored.worst[i]))


def keypoint_section(scored: Scored, baseline: Scored | None = None, labels=("baseline", "this run")) -> dict:
    """Per-keypoint PCK/EPE/OKS AP (table and bars), the overall numbers of ``mmpx eval`` and the swap rates."""
    result = scored.result
    rows = result.get("keypoints") or []
    base_rows = None
    if baseline is not None and [r["name"] for r in baseline.result.get("keypoints") or []] == scored.spec.names:
        base_rows = baseline.result["keypoints"]
    for i, row in enumerate(rows):
        row["base"] = base_rows[i] if base_rows else None
    return dict(
        summary=metric_rows(result["metrics"], baseline.result["metrics"] if baseline is not None else None),
        rows=rows, columns=[c for c in ("PCK", "EPE", "OKS AP") if rows and c in rows[0]],
        bars=keypoint_bars(scored.spec.names, rows, base_rows, labels) if rows else None,
        swaps=result.get("swaps") or [], pck=result.get("pck"), matching=result.get("matching"),
        groups=group_rows(scored) if scored.groups else [],
        by=result.get("by"),
    )


def gallery(scored: Scored, images: Path | None, worst: int = 48, per_filter: int = 6) -> dict:
    """The worst cases with their crops, and the filter choices (each with how many instances it covers)."""
    chosen = cases_.worst_cases(scored, worst, per_filter)
    for case in chosen:
        case.image = _draw(scored, case, images)
    names = scored.spec.names
    by_worst = Counter(names[k] for k in scored.worst.tolist() if k >= 0)
    group_of = scored.group_of()
    by_group = Counter(g for img in scored.m.gt_img.tolist() for g in group_of.get(img, []))
    return dict(cases=chosen, total=len(scored.oks), top=sum(c.top for c in chosen),
                missed=int((scored.m.gt_pred < 0).sum()),
                keypoints=[(n, by_worst[n]) for n in names if by_worst[n]],
                groups=[(g, by_group[g]) for g in scored.groups if by_group[g]],
                found_images=sum(c.image is not None for c in chosen))


def changes(new: Scored, old: Scored, new_images: Path | None, old_images: Path | None, limit: int = 12) -> dict:
    """The instances whose OKS fell and rose most from the baseline to this run, each drawn for both runs."""
    worse, better = cases_.changed_cases(new, old, limit)
    for case in (*worse, *better):
        case.image = _draw(new, case, new_images)
        j = cases_.index_in(old, case)
        case.other_image = _draw(old, case, old_images, j) if j is not None else None
    return dict(worse=worse, better=better, shared=len(set(cases_.by_annotation(new)) & set(cases_.by_annotation(old))))
