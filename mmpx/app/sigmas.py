"""``mmpx metainfo sigmas`` as a function: OKS sigmas estimated from double labels, COCO AP under the old and the
new sigmas, and the metainfo file written (:mod:`mmpx.evaluation.sigmas` estimates them)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mmpx.errors import MmpxError


@dataclass(frozen=True)
class SigmasRequest:
    """What ``mmpx metainfo sigmas`` was asked.

    Attributes:
        ann_a, ann_b: the same images labelled twice, independently (COCO keypoint files).
        metainfo: the metainfo in use (its sigmas are the old ones). out: write a new metainfo file here.
        write: replace the sigmas of ``metainfo`` in place. force: let ``out`` overwrite a file.
        predictions, gt: COCO results (and their ground truth, default ``ann_a``) to score under both sigmas.
        min_pairs, match_by, iou_thr, category_id: as :func:`~mmpx.evaluation.sigmas.estimate_sigmas`.
    """

    ann_a: Path
    ann_b: Path
    metainfo: Path | None = None
    out: Path | None = None
    write: bool = False
    force: bool = False
    predictions: Path | None = None
    gt: Path | None = None
    min_pairs: int = 10
    match_by: str = "auto"
    iou_thr: float = 0.5
    category_id: int | None = None

    def check(self) -> None:
        """Options that do not go together, and an ``out`` that would replace an input or, without ``force``,
        a file."""
        if self.out is not None and self.write:
            raise MmpxError("--out and --write both given", "--out writes a new file, --write replaces --metainfo")
        if self.write and self.metainfo is None:
            raise MmpxError("--write replaces the sigmas of --metainfo, and no --metainfo was given",
                            "add --metainfo FILE, or write a new file with --out NEW.py")
        if self.gt is not None and self.predictions is None:
            raise MmpxError("--gt is the ground truth for --predictions, which was not given",
                            "add --predictions PRED.json (COCO keypoint results)")
        if self.out is not None:
            inputs = [p for p in (self.ann_a, self.ann_b, self.metainfo, self.predictions, self.gt) if p is not None]
            if any(self.out.resolve() == p.resolve() for p in inputs):
                raise MmpxError(f"--out {self.out} is one of the input files", "write the new metainfo to a new "
                                ".py file, or replace --metainfo in place with --write")
            if self.out.exists() and not self.force:
                raise MmpxError(f"--out {self.out} exists", "pass --force to overwrite it")
            from mmpx.atomic import check_writable

            check_writable(self.out, "--out")


@dataclass
class SigmasOutcome:
    """The estimate (:class:`~mmpx.evaluation.sigmas.SigmaEstimate`), COCO AP of the predictions under the
    ``old`` and ``new`` sigmas (or None), the file written (or None) and how (replaced, added, rewritten)."""

    result: object
    ap: dict | None = None
    written: Path | None = None
    how: str | None = None


def estimate(request: SigmasRequest) -> SigmasOutcome:
    """Estimate the sigmas; score the predictions; write the file asked for."""
    from mmpx.evaluation.sigmas import estimate_sigmas
    from mmpx.metainfo import keypoint_names, load_metainfo

    request.check()
    info = old = names = None
    source = ""
    if request.metainfo is not None:
        info = load_metainfo(request.metainfo)
        names, source = keypoint_names(info), str(request.metainfo)
        old = info.get("sigmas") or None  # none yet: the defaults, as if there were no metainfo
    if request.write:
        from mmpx.atomic import check_writable

        check_writable(request.metainfo, "--write")
    result = estimate_sigmas(request.ann_a, request.ann_b, old_sigmas=old, old_source=source, old_names=names,
                             match_by=request.match_by, iou_thr=request.iou_thr, min_pairs=request.min_pairs,
                             category_id=request.category_id)
    ap = _ap(request, info, result) if request.predictions is not None else None
    written, how = _write(request, info, result.sigmas())
    return SigmasOutcome(result, ap, written, how)


def _ap(request: SigmasRequest, info: dict | None, result) -> dict:
    """COCO AP/AR of ``request.predictions`` under the old and the new sigmas."""
    from mmpx.evaluation.sigmas import ap_under_sigmas
    from mmpx.metainfo import build_metainfo

    base = info if info is not None else build_metainfo(request.ann_a.stem, result.names)
    return ap_under_sigmas(request.gt or request.ann_a, request.predictions,
                           {"old": dict(base, sigmas=[k.old for k in result.keypoints]),
                            "new": dict(base, sigmas=result.sigmas())})


def _write(request: SigmasRequest, info: dict | None, new: list[float]) -> tuple[Path | None, str | None]:
    """Write the sigmas as asked (``--write``: into ``metainfo``; ``--out``: a copy of it, or a new file built
    from ANN_A's category); the file written and how."""
    from mmpx.metainfo import metainfo_from_coco
    from mmpx.metainfo.sigmas import write_sigmas

    if request.write:
        return request.metainfo, write_sigmas(request.metainfo, request.metainfo, new)
    if request.out is None:
        return None, None
    if info is not None:
        return request.out, write_sigmas(request.metainfo, request.out, new)
    source = metainfo_from_coco(request.ann_a, category_id=request.category_id)
    return request.out, write_sigmas(source, request.out, new)


__all__ = ["SigmasOutcome", "SigmasRequest", "estimate"]
