"""The predictions a run leaves for its report, in a torch-free format::

    WORK/predictions/val_results.json        COCO keypoint results: what ``mmpx eval GT PRED`` reads
    WORK/predictions/val_results.meta.json   what they were made on (schema ``mmpx-predictions/1``)

``val`` is the last validation of ``mmpx train``, ``test`` the run of ``mmpx test``. The meta file names the
ground-truth file and image folder, the keypoints (names, OKS sigmas, left/right partners, skeleton), when the
predictions were made (epoch, iteration, checkpoint) and the metrics the run logged for them. The training
process writes both (``mmpose_ext.engine.ReportHook``); the report reads them without torch.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from mmpx.errors import MmpxError

SCHEMA = "mmpx-predictions/1"
FOLDER = "predictions"
SPLITS = ("val", "test")


@dataclass
class KeypointSpec:
    """Keypoint names, OKS sigmas, left/right partner of each keypoint, skeleton links (index pairs)."""

    names: list[str]
    sigmas: list[float]
    flip: list[int]
    skeleton: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class Predictions:
    """One predictions file with its meta (see the module docstring)."""

    path: Path
    results: list[dict]
    gt: Path
    images: Path | None
    spec: KeypointSpec
    split: str = "val"
    epoch: int | None = None
    iteration: int | None = None
    checkpoint: str | None = None
    metrics: dict = field(default_factory=dict)
    written: str | None = None

    def describe(self) -> str:
        """A phrase for the page: which run step made these predictions."""
        if self.split == "test":
            what = "mmpx test" + (f" of {Path(self.checkpoint).name}" if self.checkpoint else "")
        elif self.split == "val":
            what = "the last validation of training" + (f" (epoch {self.epoch})" if self.epoch else "")
        else:
            what = self.split
        return f"{what}, {len(self.results)} predictions on {self.gt.name}"


def results_path(work_dir: str | Path, split: str) -> Path:
    return Path(work_dir) / FOLDER / f"{split}_results.json"


def meta_path(results: str | Path) -> Path:
    results = Path(results)
    return results.with_name(results.stem + ".meta.json")


def write_predictions(work_dir: str | Path, split: str, results: list[dict], meta: dict) -> Path:
    """Write ``results`` and their meta (atomically, results first); returns the results file.

    Args:
        work_dir: the run folder; files go to ``work_dir/predictions``.
        split: ``val`` or ``test``.
        results: COCO keypoint results.
        meta: ``gt``, ``images``, ``keypoints``, ``sigmas``, ``flip_indices``, ``skeleton`` and optionally
            ``epoch``, ``iter``, ``checkpoint``, ``metrics``.
    """
    from mmpx.atomic import write_json

    path = results_path(work_dir, split)
    write_json(path, results, indent=None)
    write_json(meta_path(path), dict(meta, schema=SCHEMA, split=split, results=path.name, count=len(results),
                                     written=time.strftime("%Y-%m-%d %H:%M:%S")))
    return path


def _load(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MmpxError(f"cannot read {what} {path}: {exc}",
                        "rerun mmpx test (or mmpx train) to write it again") from None


def read_predictions(results: str | Path) -> Predictions:
    """Read a results file and its meta file.

    Raises:
        MmpxError: a missing or unreadable file, or a meta file of another schema.
    """
    results = Path(results)
    meta_file = meta_path(results)
    if not meta_file.is_file():
        raise MmpxError(f"{meta_file} does not exist: the report needs it beside {results.name}",
                        "for a results file from another tool use mmpx eval GT PRED --report report.html")
    meta = _load(meta_file, "predictions meta")
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise MmpxError(f"{meta_file} is not an {SCHEMA} file", "rerun mmpx test to write it again")
    names = [str(n) for n in meta["keypoints"]]
    spec = KeypointSpec(names, [float(s) for s in meta["sigmas"]],
                        [int(i) for i in meta.get("flip_indices") or range(len(names))],
                        [(int(a), int(b)) for a, b in meta.get("skeleton") or []])
    return Predictions(results, _load(results, "predictions"), Path(meta["gt"]),
                       Path(meta["images"]) if meta.get("images") else None, spec, meta.get("split", "val"),
                       meta.get("epoch"), meta.get("iter"), meta.get("checkpoint"), meta.get("metrics") or {},
                       meta.get("written"))


def find_predictions(work_dir: str | Path) -> Path | None:
    """The newest results file in ``work_dir/predictions`` that has a meta file, or None."""
    found = [results_path(work_dir, s) for s in SPLITS]
    found = [p for p in found if p.is_file() and meta_path(p).is_file()]
    return max(found, key=lambda p: meta_path(p).stat().st_mtime_ns) if found else None


def spec_for(metainfo: dict | None, gt: dict) -> KeypointSpec:
    """The keypoints of ``mmpx eval GT PRED --report``: names, sigmas and swaps as ``mmpx eval`` takes them (the
    metainfo, or COCO's for 17 keypoints); the skeleton from the metainfo, else the GT category's (1-based)."""
    from mmpx.evaluation.api import keypoint_spec

    names, sigmas, flip = keypoint_spec(metainfo, gt)
    index = {n: i for i, n in enumerate(names)}
    links: list[tuple[int, int]] = []
    if metainfo is not None:
        for link in (metainfo.get("skeleton_info") or {}).values():
            a, b = link.get("link", (None, None))
            if a in index and b in index:
                links.append((index[a], index[b]))
    else:
        cats = gt.get("categories") or [{}]
        for pair in cats[0].get("skeleton") or []:
            if len(pair) == 2 and all(isinstance(v, int) and 1 <= v <= len(names) for v in pair):
                links.append((pair[0] - 1, pair[1] - 1))
    return KeypointSpec(names, sigmas, flip, links)
