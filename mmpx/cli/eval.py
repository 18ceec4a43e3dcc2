"""``mmpx eval GT.json PRED.json``: evaluate COCO keypoint predictions from any tool, offline (no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._options import metainfo_file
from mmpx.cli._output import out_console
from mmpx.errors import MmpxError

GtArg = Annotated[Path, typer.Argument(help="COCO keypoint ground truth (.json).", show_default=False)]
PredArg = Annotated[Path, typer.Argument(help="COCO keypoint results (.json), e.g. CocoMetric's *.keypoints.json.",
                                         show_default=False)]


@guarded(inputs=("gt", "pred", "metainfo", "images"), outputs=("out", "markdown", "report"))
def eval_(
    gt: GtArg,
    pred: PredArg,
    metainfo: Annotated[Path | None, typer.Option(help="MMPose metainfo .py (names, sigmas, swaps); "
                                                       "optional for COCO's 17 keypoints.",
                                                  callback=metainfo_file)] = None,
    by: Annotated[str | None, typer.Option("--by", help="Image field to group by (e.g. category; Human-Art: "
                                                        "scenario, group); several: a,b.")] = None,
    metrics: Annotated[str, typer.Option(help="Comma-separated: coco, pck, epe, oks_per_keypoint, swap.")] = (
        "coco,pck,epe,oks_per_keypoint,swap"),
    pck_thr: Annotated[float, typer.Option(help="PCK threshold (normalised distance).")] = 0.05,
    pck_norm: Annotated[str, typer.Option(help="PCK normaliser: bbox, torso or head.")] = "bbox",
    out: Annotated[Path | None, typer.Option(help="Write the results (schema mmpx-eval/1) to this JSON.")] = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the tables as Markdown to this file.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write an HTML report (tables, per-keypoint bars, worst cases "
                                                     "drawn) to this file; see docs/guides/report.md.")] = None,
    images: Annotated[Path | None, typer.Option(help="With --report: the folder of the GT's file_name values. "
                                                     "Default: images/ beside or above the GT's folder.")] = None,
) -> None:
    """Evaluate keypoint predictions: COCO AP/AR (overall, per group), per-keypoint PCK/EPE/OKS AP, swaps.

    With a multi-class --metainfo (several classes, one COCO category each), each class is scored on its own
    keypoints and sigmas (a per-class table; the overall figures are the means over the classes).

    The numbers equal those of the GroupedCocoMetric / KeypointBreakdownMetric of a run on the same
    predictions; definitions in docs/guides/evaluation.md.
    """
    from mmpx.atomic import check_writable, write_json, write_text
    from mmpx.evaluation.api import evaluate
    from mmpx.evaluation.tables import eval_markdown, eval_tables

    if pck_norm not in ("bbox", "torso", "head"):
        raise MmpxError(f"--pck-norm {pck_norm!r} is not a PCK normaliser", "use bbox, torso or head")
    for path, option in ((out, "--out"), (markdown, "--markdown"), (report, "--report")):
        if path is not None:
            check_writable(path, option)
    fields = [f.strip() for f in by.split(",") if f.strip()] if by else None
    result = evaluate(gt, pred, metainfo=metainfo, by=fields[0] if fields and len(fields) == 1 else fields,
                      metrics=[m.strip() for m in metrics.split(",") if m.strip()], pck_thr=pck_thr,
                      pck_norm=pck_norm)
    console = out_console()
    if result.get("matched_by_file_name"):
        console.print(f"{result['matched_by_file_name']} predictions took the ground truth's image ids from their "
                      "file_name (their own ids were another numbering, e.g. mmpx infer's)", highlight=False)
    for table in eval_tables(result):
        console.print(table)
    if out is not None:
        write_json(out, result)
        console.print(f"results written to {out}", highlight=False)
    if markdown is not None:
        write_text(markdown, eval_markdown(result))
        console.print(f"tables written to {markdown}", highlight=False)
    if report is not None:
        from mmpx.report import build_eval_report

        written = build_eval_report(gt, pred, report, metainfo, images, fields, pck_thr=pck_thr, pck_norm=pck_norm)
        console.print(f"report: {written.path}", highlight=False)
