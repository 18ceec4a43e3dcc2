"""The sigma estimate per keypoint, its bootstrap interval, and COCO AP under old and new sigmas."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmpx.errors import MmpxError
from mmpx.evaluation.sigmas.labels import KEYPOINT_PAIR_MAX, check_names, number, read_labels
from mmpx.evaluation.sigmas.pairs import pair_images, pair_instances, pair_scale

MATCH_BY = ("auto", "file_name", "id")
# two labels of one keypoint more than half the object's size apart (d > s/2) are a slip or a left/right swap,
# not labelling noise (for sigma 0.1 the chance is e^-12.5); they are kept (COCO's definition has no cut-off)
# but counted, so the user can look
FAR = 0.5
DECIMALS = 4  # sigmas are written rounded: 0.0001 is far below any interval from a few hundred pairs


@dataclass
class KeypointSigma:
    name: str
    pairs: int
    estimate: float | None  # None without pairs
    low: float | None  # confidence interval of the estimate (None with fewer than 2 pairs)
    high: float | None
    old: float
    far: int  # pairs whose two labels are more than FAR·s apart
    used: bool  # enough pairs: ``new`` is the estimate, else the old sigma is kept

    @property
    def new(self) -> float:
        if not self.used:
            return self.old
        return max(round(self.estimate, DECIMALS), 10.0 ** -DECIMALS)


@dataclass
class SigmaEstimate:
    file_a: str
    file_b: str
    names: list[str]
    keypoints: list[KeypointSigma]
    old_source: str  # where the old sigmas come from
    match_by: str  # how images were paired
    images_paired: int
    images_only_a: list[str]
    images_only_b: list[str]
    instance_pairs: int
    instances_only_a: int
    instances_only_b: int
    pairing: dict[str, int]  # "bbox IoU" / "keypoints" -> instance pairs paired that way
    iou_thr: float
    scale: dict[str, int]  # "area" / "bbox" / "mixed" -> instance pairs whose s^2 came from it
    min_pairs: int
    confidence: float
    ignored: dict[str, int] = field(default_factory=dict)

    def sigmas(self) -> list[float]:
        """The sigmas to write: estimates where they rest on enough pairs, the old sigma elsewhere."""
        return [k.new for k in self.keypoints]

    def scale_text(self) -> str:
        used = [k for k, n in self.scale.items() if n]
        if used == ["area"]:
            return "s² = mean of the two annotations' `area`"
        if used == ["bbox"]:
            return "s² = mean of the two annotations' bbox w·h (no `area` field)"
        return "s² = mean `area`, or bbox w·h where `area` is missing: " + ", ".join(
            f"{n} pairs {k}" for k, n in self.scale.items() if n)

    def as_dict(self) -> dict:
        return dict(
            file_a=self.file_a, file_b=self.file_b, old_source=self.old_source, match_by=self.match_by,
            images_paired=self.images_paired, images_only_a=self.images_only_a, images_only_b=self.images_only_b,
            instance_pairs=self.instance_pairs, instances_only_a=self.instances_only_a,
            instances_only_b=self.instances_only_b, pairing=self.pairing, iou_thr=self.iou_thr,
            scale=self.scale, ignored=self.ignored, min_pairs=self.min_pairs, confidence=self.confidence,
            keypoints=[dict(name=k.name, pairs=k.pairs, old=k.old, estimate=k.estimate, low=k.low, high=k.high,
                            new=k.new, used=k.used, far=k.far) for k in self.keypoints],
            sigmas=self.sigmas(),
        )


# ---------------------------------------------------------------- estimating


def _interval(values: np.ndarray, confidence: float, resamples: int, rng) -> tuple[float | None, float | None]:
    """Bootstrap percentile interval of sqrt(mean / 2); real double labels have heavy tails (an occasional slip),
    which a chi-square interval would ignore."""
    n = len(values)
    if n < 2:
        return None, None
    means = []
    chunk = max(1, 2_000_000 // n)  # bounded memory for tens of thousands of pairs
    for start in range(0, resamples, chunk):
        idx = rng.integers(0, n, (min(chunk, resamples - start), n))
        means.append(values[idx].mean(axis=1))
    lo, hi = np.quantile(np.concatenate(means), [(1 - confidence) / 2, (1 + confidence) / 2])
    return math.sqrt(lo / 2), math.sqrt(hi / 2)


def default_sigmas(names: Sequence[str]) -> tuple[list[float], str]:
    """The sigmas a file without metainfo is evaluated with: COCO's for COCO's 17 keypoints (as ``mmpx eval``),
    else mmpx's default (what ``mmpx metainfo from-coco`` writes)."""
    from mmpx.evaluation.api import COCO_NAMES, COCO_SIGMAS
    from mmpx.metainfo.build import DEFAULT_SIGMA

    if tuple(names) == COCO_NAMES:
        return list(COCO_SIGMAS), "COCO's sigmas (the keypoints are COCO's 17)"
    return [DEFAULT_SIGMA] * len(names), f"mmpx's default {DEFAULT_SIGMA} each"


def estimate_sigmas(ann_a: str | Path, ann_b: str | Path, old_sigmas: Sequence[float] | None = None,
                    old_source: str = "", old_names: Sequence[str] | None = None, match_by: str = "auto",
                    iou_thr: float = 0.5, min_pairs: int = 10, confidence: float = 0.95, category_id: int | None = None,
                    resamples: int = 1000, seed: int = 0) -> SigmaEstimate:
    """OKS sigma per keypoint from two labellings of the same images.

    Args:
        ann_a, ann_b: COCO keypoint files, the same images labelled twice, independently.
        old_sigmas: the sigmas in use (kept where the estimate rests on too few pairs); default
            :func:`default_sigmas`.
        old_source: where ``old_sigmas`` come from (the metainfo file), for the report.
        old_names: the keypoint names of the metainfo holding ``old_sigmas``; must be the files' names.
        match_by: pair images by ``file_name``, by ``id``, or ``auto`` (file names when every image has one).
        iou_thr: least box IoU for two instances to be the same object.
        min_pairs: keypoints with fewer pairs keep their old sigma.
        confidence: of the bootstrap interval.
        category_id: the keypoint category, when a file has several.
        resamples, seed: bootstrap resamples; fixed seed, so a rerun prints the same interval.

    Raises:
        MmpxError: unreadable or non-COCO files, keypoint lists that differ, no paired images or instances,
            bad areas, two files that agree exactly (not independent labellings).
    """
    if match_by not in MATCH_BY:  # before reading anything
        raise MmpxError(f"--match-by {match_by!r} is not a way to pair images", f"use {', '.join(MATCH_BY)}")
    a, b = read_labels(ann_a, category_id), read_labels(ann_b, category_id)
    check_names(a.names, b.names, a.path, b.path)
    k = len(a.names)
    if old_names is not None:
        check_names(old_names, a.names, old_source, a.path)
    if old_sigmas is None:
        old_sigmas, default = default_sigmas(a.names)
        old_source = f"{old_source} has no sigmas: {default}" if old_source else f"no metainfo: {default}"
    if len(old_sigmas) != k or any(number(v) is None or v <= 0 for v in old_sigmas):
        raise MmpxError(f"{old_source}: sigmas must be {k} positive numbers (one per keypoint), found "
                        f"{str(list(old_sigmas))[:80]}", "fix the sigmas list of the metainfo file")
    how, image_pairs, only_a, only_b = pair_images(a, b, match_by)
    values: list[list[float]] = [[] for _ in range(k)]
    pairing = {"bbox IoU": 0, "keypoints": 0}
    scale = {"area": 0, "bbox": 0, "mixed": 0}
    n_pairs = lone_a = lone_b = 0
    for id_a, id_b in image_pairs:
        insts_a, insts_b = a.instances.get(id_a, []), b.instances.get(id_b, [])
        pairs, pair_how = pair_instances(insts_a, insts_b, iou_thr)
        pairing[pair_how] += len(pairs)
        n_pairs += len(pairs)
        lone_a += len(insts_a) - len(pairs)
        lone_b += len(insts_b) - len(pairs)
        for i, j in pairs:
            p, q = insts_a[i], insts_b[j]
            s2, source = pair_scale(p, q)
            scale[source] += 1
            both = p.labelled & q.labelled
            d2 = ((p.xy - q.xy) ** 2).sum(axis=1) / s2
            for kp in np.flatnonzero(both):
                values[kp].append(float(d2[kp]))
    if not n_pairs:
        raise MmpxError(f"{len(image_pairs)} images are in both files, but no instance of {a.path} pairs with one "
                        f"of {b.path} (box IoU >= {iou_thr}, or keypoints within {KEYPOINT_PAIR_MAX}·s)",
                        "check that both files label the same objects; lower --iou-thr if the boxes are loose")
    if all(not v or not any(v) for v in values):
        raise MmpxError(f"{a.path} and {b.path} place every paired keypoint at exactly the same point: they are "
                        "not two independent labellings", "label the images a second time (another person, or "
                        "the same a few days later) and give that file")
    rng = np.random.default_rng(seed)
    rows = []
    for name, vals, old in zip(a.names, values, old_sigmas, strict=True):
        arr = np.asarray(vals, dtype=np.float64)
        estimate = math.sqrt(arr.mean() / 2) if len(arr) else None
        low, high = _interval(arr, confidence, resamples, rng)
        used = len(arr) >= min_pairs and bool(estimate)
        rows.append(KeypointSigma(name, len(arr), estimate, low, high, float(old), int((arr > FAR ** 2).sum()),
                                  used))
    return SigmaEstimate(
        file_a=str(a.path), file_b=str(b.path), names=a.names, keypoints=rows, old_source=old_source,
        match_by=how, images_paired=len(image_pairs), images_only_a=only_a, images_only_b=only_b,
        instance_pairs=n_pairs, instances_only_a=lone_a, instances_only_b=lone_b, pairing=pairing,
        iou_thr=iou_thr, scale=scale, min_pairs=min_pairs, confidence=confidence,
        ignored={str(a.path): a.ignored, str(b.path): b.ignored})


# ---------------------------------------------------------------- COCO AP under two sets of sigmas


def ap_under_sigmas(gt: str | Path, predictions: str | Path, infos: dict[str, dict]) -> dict[str, dict]:
    """COCO AP/AR of ``predictions`` against ``gt`` under each metainfo of ``infos`` (label -> dataset_info)."""
    from mmpx.evaluation.api import evaluate

    return {label: evaluate(gt, predictions, metainfo=info, metrics=["coco"])["metrics"]
            for label, info in infos.items()}
