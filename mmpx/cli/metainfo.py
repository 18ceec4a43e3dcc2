"""``mmpx metainfo``: make an MMPose metainfo file from COCO annotations, and check one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._app import make_typer
from mmpx.cli._options import JsonOpt
from mmpx.cli.check import MaxRowsOpt

app = make_typer(help="Make and check MMPose dataset metainfo files (keypoints, skeleton, swaps, sigmas).")


@app.command("from-coco")
def from_coco(
    ann: Annotated[Path, typer.Argument(help="COCO keypoint JSON whose category lists the keypoints.",
                                        show_default=False)],
    out: Annotated[Path, typer.Argument(help="Metainfo .py file to write.", show_default=False)],
    category_id: Annotated[
        int | None, typer.Option("--category-id", help="The category to use when several have keypoints.")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="dataset_name (default: the annotation file's name).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Write a metainfo file: names and skeleton from the category, left/right swaps inferred from the names,
    default sigmas (0.025) and joint weights (1.0) to tune by hand."""
    from mmpx.errors import MmpxError
    from mmpx.metainfo import metainfo_from_coco, write_metainfo

    if out.resolve() == ann.resolve():
        raise MmpxError(f"{out} is the annotation file it reads; --force would replace your COCO file",
                        "write the metainfo to a new .py file, e.g. metainfo.py")
    if out.exists() and not force:
        raise MmpxError(f"{out} exists", "pass --force to overwrite it (hand-tuned sigmas would be lost)")
    info = metainfo_from_coco(ann, category_id=category_id, dataset_name=name)
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
    """Validate a metainfo file: ids, names, swaps, skeleton, sigmas, joint weights, colours.

    Exit code 1 when there are errors, 0 with only warnings.
    """
    from mmpx.check.problems import count, print_table
    from mmpx.metainfo import load_metainfo, validate_metainfo

    info = load_metainfo(file)
    problems = validate_metainfo(info, str(file))
    errors, warnings = count(problems)
    k = len(info.get("keypoint_info") or {})
    if as_json:
        typer.echo(json.dumps({"file": str(file), "keypoints": k, "errors": errors, "warnings": warnings,
                               "problems": [p.as_dict() for p in problems]}, indent=2))
    else:
        from rich.console import Console

        console = Console()
        if problems:
            print_table(problems, f"mmpx metainfo check: {file}", max_rows, console)
        style = "red" if errors else "yellow" if warnings else "green"
        console.print(f"[{style}]{file}: {k} keypoints: {errors} errors, {warnings} warnings[/{style}]",
                      highlight=False)
    if errors:
        raise typer.Exit(1)


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
    from mmpx.metainfo_mapping import map_keypoints as build_map

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
