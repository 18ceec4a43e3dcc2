"""``mmpx metainfo``: make an MMPose metainfo file from COCO annotations, and check one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._guard import guarded
from mmpx.cli._options import JsonOpt, MaxRowsOpt, metainfo_file
from mmpx.cli._output import out_console

app = make_typer(help="Make and check MMPose dataset metainfo files (keypoints, skeleton, swaps, sigmas).")


@app.command("from-coco")
@guarded(inputs=("ann",), outputs=("out",))
def from_coco(
    ann: Annotated[Path, typer.Argument(help="COCO keypoint JSON whose category lists the keypoints (or whose "
                                        "annotations count them, when it names none).", show_default=False)],
    out: Annotated[Path, typer.Argument(help="Metainfo .py file to write.", show_default=False)],
    category_id: Annotated[
        int | None, typer.Option("--category-id", help="The category to use when several list different "
                                 "keypoints (categories sharing one list, as AP-10K's species, need none).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="dataset_name (default: the annotation file's name).")
    ] = None,
    like: Annotated[
        str | None, typer.Option("--like", metavar="NAME|FILE", help="Take skeleton, swaps, sigmas and joint "
                                 "weights from this metainfo: an MMPose dataset name (300w, ap10k, "
                                 "coco_wholebody_face: its configs/_base_/datasets/NAME.py) or a metainfo .py. "
                                 "By name when the file names its keypoints (the same names), else names too, by "
                                 "position (the same count).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
    all_categories: Annotated[
        bool, typer.Option("--all-categories", help="One class per category (categories with different "
                           "keypoints, e.g. car and bicycle): writes a multi-class metainfo "
                           "(docs/guides/multiclass.md).")
    ] = False,
) -> None:
    """Write a metainfo file: names and skeleton from the category, left/right swaps inferred from the names,
    default sigmas (0.025) and joint weights (1.0) to tune by hand. With --all-categories, one class per category.

    A category without names gets numbered ones (kpt_0, kpt_1, ...; the count from the annotations) and no swaps:
    the warning names MMPose's metainfo files with that many keypoints, to take with --like.
    """
    from mmpx.cli._output import err_console, report_warning
    from mmpx.errors import MmpxError
    from mmpx.metainfo import write_metainfo
    from mmpx.metainfo.coco import from_coco as read_coco

    if out.resolve() == ann.resolve():
        raise MmpxError(f"{out} is the annotation file it reads; --force would replace your COCO file",
                        "write the metainfo to a new .py file, e.g. metainfo.py")
    if out.exists() and not force:
        raise MmpxError(f"{out} exists", "pass --force to overwrite it (hand-tuned sigmas would be lost)")
    made = read_coco(ann, category_id=category_id, dataset_name=name, like=like, all_categories=all_categories)
    for note in made.notes:
        err_console().print(f"note: {note}", markup=False)
    for warning in made.warnings:
        report_warning(warning)
    info = made.info
    write_metainfo(out, info)
    kinfo = info["keypoint_info"].values()
    pairs = sum(1 for kp in kinfo if kp["swap"]) // 2
    typer.echo(f"wrote {out}: {len(kinfo)} keypoints, {pairs} left/right pairs, "
               f"{len(info['skeleton_info'])} skeleton links")
    typer.echo(f"use it with metainfo=dict(from_file='{out}'); tune sigmas per keypoint for a fair COCO AP")


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="Metainfo .py file (dataset_info = dict(...)).",
                                         show_default=False)],
    as_json: JsonOpt = False,
    max_rows: MaxRowsOpt = 50,
) -> None:
    """Validate a metainfo file: ids, names, swaps, skeleton, sigmas, joint weights, colours; for a multi-class
    file also its classes (matching the union, no swap or link between classes), each listed.

    Exit code 1 when there are errors, 0 with only warnings.
    """
    from mmpx.errors.problems import count, print_table
    from mmpx.metainfo import load_metainfo, validate_metainfo

    info = load_metainfo(file)
    problems = validate_metainfo(info, str(file))
    errors, warnings = count(problems)
    k = len(info.get("keypoint_info") or {})
    classes = _classes(info) if not errors else []
    if as_json:
        typer.echo(json.dumps({"file": str(file), "keypoints": k, "errors": errors, "warnings": warnings,
                               "problems": [p.as_dict() for p in problems],
                               **({"classes": classes} if classes else {})}, indent=2))
    else:
        console = out_console()
        if problems:
            print_table(problems, f"mmpx metainfo check: {file}", max_rows, console)
        style = "red" if errors else "yellow" if warnings else "green"
        for c in classes:
            console.print(f"  class {c['name']} (id {c['id']}): {c['keypoints']} keypoints", markup=False,
                          highlight=False)
        console.print(f"[{style}]{file}: {k} keypoints: {errors} errors, {warnings} warnings[/{style}]",
                      highlight=False)
    if errors:
        raise typer.Exit(1)


def _classes(info: dict) -> list[dict]:
    """The classes of a sound multi-class file (name, id, keypoint count); none for a one-class file."""
    from mmpx.metainfo.classes import keypoint_classes

    return [dict(name=c.name, id=c.id, keypoints=len(c.keypoints)) for c in keypoint_classes(info) or []]


@app.command("map")
def map_keypoints(
    source: Annotated[str, typer.Argument(help="Metainfo of the samples: a .py file, or "
                                          "mmpose::_base_/datasets/NAME.py.", show_default=False)],
    target: Annotated[str, typer.Argument(help="Metainfo of the model, in the same forms.", show_default=False)],
    alias: Annotated[
        list[str] | None,
        typer.Option("--alias", help="SOURCE_NAME=TARGET_NAME for a keypoint named differently (repeatable)."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Map SOURCE's keypoints onto TARGET's by name, as the KeypointMapping transform does: what is kept, what
    SOURCE has that TARGET drops, which TARGET keypoints stay invisible, and the mapping for KeypointConverter."""
    from mmpx.errors import MmpxError
    from mmpx.metainfo.mapping import map_keypoints as build_map

    aliases = {}
    for item in alias or []:
        name, sep, other = item.partition("=")
        if not sep or not name.strip() or not other.strip():
            raise MmpxError(f"--alias {item!r} is not SOURCE_NAME=TARGET_NAME", "e.g. --alias nose=top_head")
        aliases[name.strip()] = other.strip()
    result = build_map(source, target, aliases)
    if as_json:
        typer.echo(json.dumps({"source": result.source, "target": result.target, "pairs": result.pairs,
                               "how": result.how, "kept": result.kept, "dropped": result.dropped,
                               "missing": result.missing}, indent=2))
        return
    typer.echo(result.report())
    typer.echo(f"KeypointConverter(num_keypoints={len(result.target_names)}, mapping={result.pairs})")
    extra = f", aliases={aliases!r}" if aliases else ""
    typer.echo(f"in a pipeline: dict(type='KeypointMapping', source={source!r}, target={target!r}{extra})")


@app.command("sigmas")
@guarded(inputs=("ann_a", "ann_b", "metainfo", "predictions", "gt"), outputs=("out",))
def sigmas(
    ann_a: Annotated[Path, typer.Argument(help="COCO keypoint JSON: the first labelling.", metavar="ANN_A",
                                                            show_default=False)],
    ann_b: Annotated[Path, typer.Argument(help="COCO keypoint JSON: the same images labelled again, "
                                          "independently.", metavar="ANN_B", show_default=False)],
    metainfo: Annotated[
        Path | None,
        typer.Option("--metainfo", help="The metainfo .py in use: its sigmas are the old ones, and --out copies "
                     "it. Default: COCO's sigmas for COCO's 17 keypoints, else 0.025 each.", callback=metainfo_file),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write a metainfo .py with the new sigmas: a copy of --metainfo, or one built "
                     "from ANN_A's category."),
    ] = None,
    write: Annotated[bool, typer.Option("--write", help="Replace the sigmas of --metainfo in place (atomically; "
                                        "the rest of the file stays as it is).")] = False,
    force: Annotated[bool, typer.Option("--force", help="Let --out overwrite an existing file.")] = False,
    predictions: Annotated[
        Path | None,
        typer.Option("--predictions", help="COCO keypoint results (.json): show COCO AP/AR under the old and "
                     "the new sigmas."),
    ] = None,
    gt: Annotated[
        Path | None,
        typer.Option("--gt", help="Ground truth for --predictions (default: ANN_A)."),
    ] = None,
    min_pairs: Annotated[
        int, typer.Option("--min-pairs", min=1, help="Keypoints with fewer labelled pairs keep the old sigma.")
    ] = 10,
    match_by: Annotated[
        str, typer.Option("--match-by", help="Pair images by file_name, by id, or auto (file_name when every "
                          "image has one).")
    ] = "auto",
    iou_thr: Annotated[
        float, typer.Option("--iou-thr", min=0.01, max=1.0,
                            help="Least box IoU for two annotations to be the same object.")
    ] = 0.5,
    category_id: Annotated[
        int | None, typer.Option("--category-id", help="The category to use when several have keypoints.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Estimate OKS sigmas from your own double labels: the same images labelled twice (by two people, or by one
    a few days apart).

    COCO defines sigma² as the expected d²/s², d being one label's distance from the truth and s² the object's
    area. Two independent labels are twice as far apart (in d²) as one from the truth, so each keypoint gets
    sigma = sqrt(mean(d_AB²/s²) / 2) over the instances both files label, with a 95% bootstrap interval.
    Images pair by file_name (or id), instances by box IoU (by keypoints without boxes). See
    docs/guides/evaluation.md.

    Nothing is written without --out or --write.
    """
    from mmpx.app.sigmas import SigmasRequest, estimate

    outcome = estimate(SigmasRequest(ann_a, ann_b, metainfo, out, write, force, predictions, gt, min_pairs, match_by,
                                     iou_thr, category_id))
    if as_json:
        written = str(outcome.written) if outcome.written else None
        typer.echo(json.dumps(dict(outcome.result.as_dict(), ap=outcome.ap, written=written, how=outcome.how),
                              indent=2))
        return
    _print_sigmas(outcome)


def _interval(k) -> str:
    return "" if k.low is None else f"{k.low:.4f} .. {k.high:.4f}"


def _say(console, text: str, style: str | None = None) -> None:
    from rich.markup import escape

    console.print(f"[{style}]{escape(text)}[/{style}]" if style else escape(text), highlight=False)


def _print_sigmas(outcome) -> None:
    console, result = out_console(), outcome.result
    only = (f" ({len(result.images_only_a)} only in A, {len(result.images_only_b)} only in B)"
            if result.images_only_a or result.images_only_b else "")
    _say(console, f"A = {result.file_a}, B = {result.file_b}")
    _say(console, f"{result.images_paired} images paired by {result.match_by}{only}")
    ways = ", ".join(f"{n} by {how}" + (f" >= {result.iou_thr}" if how == "bbox IoU" else "")
                     for how, n in result.pairing.items() if n)
    _say(console, f"{result.instance_pairs} instance pairs ({ways}); unpaired: {result.instances_only_a} in A, "
         f"{result.instances_only_b} in B")
    _say(console, result.scale_text())
    _say(console, f"old sigmas: {result.old_source}")
    console.print(_sigma_table(result))
    kept = [k.name for k in result.keypoints if not k.used]
    if kept:
        _say(console, f"{len(kept)} keypoint(s) keep the old sigma (fewer than --min-pairs {result.min_pairs} "
             f"pairs): label more images twice, or lower --min-pairs", "yellow")
    if outcome.ap is not None:
        console.print(_ap_table(outcome.ap))
    if outcome.written is not None:
        what = {"replaced": "sigmas replaced, the rest of the file as it was",
                "added": "sigmas added, the rest of the file as it was",
                "rewritten": "new metainfo file"}.get(outcome.how, outcome.how)
        _say(console, f"wrote {outcome.written} ({what})", "green")
    else:
        _say(console, "nothing written: pass --out NEW.py for a new metainfo file, or --write to update --metainfo")


def _sigma_table(result):
    """Per keypoint: the pairs, the old and new sigma, the interval, and why the old one is kept."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"OKS sigmas from double labels ({result.confidence:.0%} bootstrap interval)")
    for column in ("keypoint", "pairs", "old", "new", "interval", "note"):
        table.add_column(column, justify="right" if column in ("pairs", "old", "new") else "left")
    for k in result.keypoints:
        notes = []
        if not k.used:
            notes.append(f"kept old: {k.pairs} < {result.min_pairs} pairs" if k.pairs < result.min_pairs
                         else "kept old: labels agree exactly")
        if k.far:
            notes.append(f"{k.far} pair(s) over half the object's size apart: a slip or a left/right swap?")
        new = f"{k.new:.4f}" if k.used else f"[dim]{k.new:.4f}[/dim]"
        estimate = f" [dim](est. {k.estimate:.4f})[/dim]" if not k.used and k.estimate else ""
        table.add_row(escape(k.name), str(k.pairs), f"{k.old:.4f}", new + estimate, _interval(k),
                      escape("; ".join(notes)))
    return table


def _ap_table(ap: dict):
    """COCO AP/AR of --predictions under the old and the new sigmas."""
    from rich.table import Table

    table = Table(title="COCO AP of --predictions")
    for column in ("metric", "old sigmas", "new sigmas", "change"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for name in ("AP", "AP .5", "AP .75", "AR"):
        o, n = ap["old"][name], ap["new"][name]
        table.add_row(name, f"{o:.4f}", f"{n:.4f}", f"{n - o:+.4f}")
    return table
