"""Point labels that look like typos, when keypoint names are inferred from the labels (no --keypoints or
--metainfo): a misspelt label (``left_font_tire``) silently becomes a keypoint of its own."""

from __future__ import annotations

import difflib
import json
import re
import statistics
from collections.abc import Mapping, Sequence

NEAR = 0.85  # difflib ratio from which two labels count as near-spellings of each other
RARE = 0.1  # a label used on fewer than this share of the typical label's instances is rare


def suspicious_labels(counts: Mapping[str, int]) -> list[tuple[str, str]]:
    """``(label, why)`` for labels that are near-spellings of one used at least twice as often, or far rarer than
    the typical label."""
    found: dict[str, str] = {}
    names = sorted(counts, key=lambda n: (-counts[n], n))
    for i, rare in enumerate(names):
        for common in names[:i]:
            if counts[rare] > counts[common] / 2 or _digits_only_differ(rare, common):
                continue  # both in real use (left_eye, left_ear), or numbered labels (kpt_1, kpt_11)
            if difflib.SequenceMatcher(None, rare, common).ratio() >= NEAR:
                found[rare] = (f"point label {rare!r} ({counts[rare]} instance(s)) is a near-spelling of "
                               f"{common!r} ({counts[common]}): a typo makes a keypoint of its own")
                break
    typical = statistics.median(counts.values()) if counts else 0
    for name in names:
        if name not in found and typical >= 10 and counts[name] < RARE * typical:
            found[name] = (f"point label {name!r} is used on {counts[name]} instance(s), the typical label on "
                           f"{typical:g}: a typo, or a keypoint labelled only now and then?")
    return [(name, found[name]) for name in names if name in found]


def _digits_only_differ(a: str, b: str) -> bool:
    return re.sub(r"\d+", "", a) == re.sub(r"\d+", "", b)


def files_using(label: str, files: Sequence[str], limit: int = 3) -> list[str]:
    """The first ``limit`` files whose text holds ``label`` as a JSON string (a cheap second look)."""
    needle, out = json.dumps(label, ensure_ascii=False), []
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                if needle in f.read():
                    out.append(path)
        except OSError:
            continue
        if len(out) >= limit:
            break
    return out
