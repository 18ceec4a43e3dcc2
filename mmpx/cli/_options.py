"""Option types shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigArg = Annotated[
    Path,
    typer.Argument(help="Config file (MMPose style; may inherit mmpose:: and mmpx:: bases), or the name of a "
                   "shipped config (mmpx configs list).", show_default=False),
]
TrainConfigArg = Annotated[
    Path,
    typer.Argument(help="Config file (MMPose style; may inherit mmpose:: and mmpx:: bases), the name of a "
                   "shipped config (mmpx configs list), or a dataset folder as mmpx convert writes it: then the "
                   "config mmpx configs new would write is generated into the work dir first.", show_default=False,
                   metavar="CONFIG|DATASET"),
]
WorkDirOpt = Annotated[
    Path | None,
    typer.Option("--work-dir", help="Folder for logs and checkpoints (default: work_dirs/<config name>)."),
]
CfgOptionsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--cfg-options",
        help="Override config entries: KEY=VALUE [KEY=VALUE ...] as with MMPose's tools, e.g. train_cfg.max_epochs=2.",
        show_default=False,
    ),
]
# MMPose's tools take `--cfg-options a=1 b=2`; Typer options take one value each, so the pairs after the first
# land here as extra positional values and are merged by `cfg_options_from`.
CfgExtraArg = Annotated[
    list[str] | None, typer.Argument(hidden=True, show_default=False, metavar="KEY=VALUE")
]


def cfg_options_from(options: list[str] | None, extra: list[str] | None) -> list[str]:
    """`--cfg-options` values plus MMPose-style trailing `KEY=VALUE` pairs; anything else is an error."""
    from mmpx.errors import MmpxError

    extra = list(extra or [])
    if extra and not options:
        raise MmpxError(
            f"unexpected argument(s): {' '.join(extra)}", "overrides go after --cfg-options KEY=VALUE"
        )
    stray = [e for e in extra if "=" not in e]
    if stray:
        raise MmpxError(f"unexpected argument(s): {' '.join(stray)}", "each override is KEY=VALUE")
    return [*(options or []), *extra]


NoPreflightOpt = Annotated[
    bool,
    typer.Option(
        "--no-preflight",
        help="Skip the checks of files, metainfo, annotations and head/keypoint agreement done before starting.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
MaxRowsOpt = Annotated[
    int, typer.Option("--max-rows", help="Show at most this many problems in the table (the rest are "
                      "counted).")
]
TrustCheckpointOpt = Annotated[
    bool,
    typer.Option(
        "--trust-checkpoint",
        help="Load the checkpoint(s) named on this command line without the safe-load allow-list. "
        "Only for files you trust: unpickling can run code.",
    ),
]


def metainfo_file(value: Path | None) -> Path | None:
    """The callback of every ``--metainfo`` option: the names a config's ``metainfo=dict(from_file=...)`` takes
    become the file, from any folder: ``mmpose::_base_/datasets/coco.py``, ``mmpose_ext::datasets/metainfo/
    carpose.py`` and MMPose's ``configs/_base_/datasets/coco.py``. Other paths stay as given: the command reports a
    missing one (``check data`` first puts back a dataset a crashed conversion moved aside)."""
    if value is None:
        return None
    text = str(value)
    # only MMPose's own layout falls back to MMPose's file of the same name: a mistyped path to a file of the
    # user's must not silently become MMPose's coco.py
    mmpose_form = value.parent.parts[-2:] == ("_base_", "datasets") and not value.exists()
    if "::" not in text and not mmpose_form:
        return value
    from mmpx.metainfo.mapping import resolve_metainfo_path

    return resolve_metainfo_path(text)


def metainfo_files(values: list[Path] | None) -> list[Path] | None:
    """The callback of a repeatable ``--metainfo`` (``convert labelme --classes``: once per class): each value
    resolved by :func:`metainfo_file`."""
    return [metainfo_file(v) for v in values] if values else None
