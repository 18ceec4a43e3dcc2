"""Tables of an ``mmpx-eval/1`` dict: rich tables for the terminal, Markdown for files."""

from __future__ import annotations

from mmpx.evaluation.coco import STATS_NAMES


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return f"{value:.4f}"


def rows(result: dict) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) for each table: overall, per keypoint, swaps, per group."""
    tables = [("Overall", ["metric", "value"], [[k, _fmt(v)] for k, v in result["metrics"].items()])]
    kpts = result.get("keypoints")
    if kpts:
        cols = [c for c in ("count", "PCK", "EPE", "OKS AP") if c in kpts[0]]
        tables.append(("Per keypoint", ["keypoint", *cols], [[r["name"], *(_fmt(r[c]) for c in cols)]
                                                             for r in kpts]))
    if result.get("swaps"):
        tables.append(("Left/right swaps", ["pair", "swapped", "full swaps", "total", "rate"],
                       [["/".join(p["pair"]), str(p["swapped"]), str(p["swapped_pairs"]), str(p["total"]),
                         _fmt(p["rate"])] for p in result["swaps"]]))
    if result.get("groups"):
        by = result["by"] if isinstance(result["by"], str) else ",".join(result["by"])
        cols = ["AP", "AP .5", "AP .75", "AR"]
        tables.append((f"Per {by}", [by, "images", *cols],
                       [[value, str(g["num_images"]), *(_fmt(g[c]) for c in cols)]
                        for value, g in result["groups"].items()]))
    return tables


def to_tables(result: dict) -> list:
    """rich ``Table`` objects for :func:`rows`."""
    from rich.table import Table

    out = []
    for title, header, body in rows(result):
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i == 0 else "right")
        for row in body:
            table.add_row(*row)
        out.append(table)
    return out


def to_markdown(result: dict) -> str:
    """All tables as Markdown."""
    from mmpx.metric_tables import markdown_table

    return "\n\n".join(f"## {title}\n\n{markdown_table(header, body)}" for title, header, body in rows(result)) + "\n"


__all__ = ["STATS_NAMES", "rows", "to_markdown", "to_tables"]
