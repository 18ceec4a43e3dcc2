"""The report's per-class table for a run of several classes, read from the metrics it logged.

``MultiClassCocoMetric`` logs ``coco/<class>/AP`` ... ``coco/<class>/AR (L)`` per class and
``MultiClassPCKAccuracy`` logs ``<class>/PCK`` and ``PCK/<class>/<keypoint>`` (the union's keypoint names). The
classes are the names with a ``<class>/PCK`` (the configs ``mmpx configs new`` writes for several classes have both
metrics); a one-class run logs none and gets no table. With a baseline run, each class's figures beside the
baseline's. ``mmpx eval --report`` fills the same table from its per-class results.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

COLUMNS = ("AP", "AP .5", "AP .75", "AR", "PCK")
_PCK = re.compile(r"^([^/]+)/PCK$")


def _value(metrics: Mapping, key: str) -> float | None:
    value = metrics.get(key)
    if not isinstance(value, (int, float)) or not math.isfinite(value) or value == -1:  # -1: COCOeval, no GT
        return None
    return float(value)


def class_names(metrics: Mapping) -> list[str]:
    """The classes a run's metrics name, in the order they were logged: those with a ``<class>/PCK``
    (``MultiClassPCKAccuracy``'s alone: ``GroupedCocoMetric`` logs ``coco/<group>/AP`` too, so AP alone does not
    tell a class from a group of images)."""
    return list(dict.fromkeys(m.group(1) for k in metrics for m in [_PCK.match(k)] if m and m.group(1) != "coco"))


def class_rows(metrics: Mapping, baseline: Mapping | None = None) -> list[dict]:
    """Per class: ``name``, ``values`` (:data:`COLUMNS`: AP from ``coco/<class>/...``, PCK from ``<class>/PCK``),
    ``base`` (the baseline's, or None) and ``keypoints`` (``(keypoint, PCK, baseline PCK)``); [] for one class."""
    rows = []
    for name in class_names(metrics):
        def figures(m: Mapping, name: str = name) -> dict:
            return {c: _value(m, f"{name}/PCK" if c == "PCK" else f"coco/{name}/{c}") for c in COLUMNS}

        prefix = f"PCK/{name}/"
        kpts = [(k[len(prefix):], _value(metrics, k), _value(baseline, k) if baseline is not None else None)
                for k in metrics if k.startswith(prefix)]
        rows.append(dict(name=name, values=figures(metrics), keypoints=kpts,
                         base=figures(baseline) if baseline is not None else None))
    return rows


def eval_class_rows(result: Mapping) -> list[dict]:
    """:func:`class_rows` from an ``mmpx eval`` result of several classes (its ``classes`` list); [] without."""
    rows = []
    for c in result.get("classes") or []:
        values = {k: _value(c["metrics"], k) for k in COLUMNS}
        kpts = [(r["name"], r.get("PCK"), None) for r in c.get("keypoints") or []]
        rows.append(dict(name=c["name"], values=values, keypoints=kpts, base=None))
    return rows
