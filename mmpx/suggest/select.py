"""Which candidates to label: ``diverse`` (the default), ``uncertainty`` or ``random``.

``uncertainty`` alone takes the n least certain candidates, which in a video are often n frames of the same
hard moment; studies of active learning found it no better than random on some tasks (benchmarks/active_learning.py
measures it here). ``diverse`` groups the candidates into n clusters by their description (k-means, k-means++
seeding) and takes the least certain candidate of each cluster: every pick is uncertain, and no two come from the
same part of the data.
"""

from __future__ import annotations

import numpy as np

from mmpx.errors import MmpxError
from mmpx.suggest.score import Candidate

STRATEGIES = ("diverse", "uncertainty", "random")


def select(candidates: list[Candidate], n: int, strategy: str = "diverse", seed: int = 0) -> list[Candidate]:
    """``n`` candidates (all when there are fewer), most uncertain first (random: in drawn order)."""
    if strategy not in STRATEGIES:
        raise MmpxError(f"unknown strategy {strategy!r}", f"use one of {', '.join(STRATEGIES)}")
    if n < 1:
        raise MmpxError(f"--n must be at least 1, got {n}")
    rng = np.random.default_rng(seed)
    if len(candidates) <= n:
        chosen = list(candidates)
    elif strategy == "random":
        return [candidates[i] for i in rng.choice(len(candidates), n, replace=False)]
    elif strategy == "uncertainty":
        chosen = candidates
    else:
        labels = kmeans(np.stack([c.feature for c in candidates]), n, rng)
        best: dict[int, Candidate] = {}
        for c, label in zip(candidates, labels, strict=True):
            if label not in best or c.uncertainty > best[label].uncertainty:
                best[label] = c
        chosen = list(best.values())
        if len(chosen) < n:  # empty clusters (duplicates): fill with the most uncertain of the rest
            taken = {id(c) for c in chosen}
            rest = sorted((c for c in candidates if id(c) not in taken), key=lambda c: -c.uncertainty)
            chosen += rest[: n - len(chosen)]
    return sorted(chosen, key=lambda c: -c.uncertainty)[:n]


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 20) -> np.ndarray:
    """Cluster labels of the rows of ``x``: k-means++ seeding, then Lloyd iterations."""
    x = np.asarray(x, np.float64)
    centres = [x[rng.integers(len(x))]]
    nearest = ((x - centres[0]) ** 2).sum(1)
    for _ in range(1, k):
        if nearest.sum() <= 0:  # fewer distinct points than clusters
            break
        centres.append(x[rng.choice(len(x), p=nearest / nearest.sum())])
        nearest = np.minimum(nearest, ((x - centres[-1]) ** 2).sum(1))
    centres = np.stack(centres)
    labels = np.zeros(len(x), np.int64)
    for _ in range(iterations):
        # squared distances without the (n, k, d) array: |x|^2 - 2 x.c + |c|^2
        d = (x * x).sum(1)[:, None] - 2 * x @ centres.T + (centres * centres).sum(1)[None]
        new = d.argmin(1)
        if (new == labels).all() and _ > 0:
            break
        labels = new
        for j in range(len(centres)):
            members = x[labels == j]
            if len(members):
                centres[j] = members.mean(0)
    return labels
