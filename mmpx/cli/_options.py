"""Option types shared by several commands, so each is spelled and documented once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

ConfigArg = Annotated[
    Path,
    typer.Argument(help="Config file (MMPose style; may inherit mmpose:: bases).", show_default=False),
]
WorkDirOpt = Annotated[
    Path | None,
    typer.Option("--work-dir", help="Folder for logs and checkpoints (default: work_dirs/<config name>)."),
]
CfgOptionsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--cfg-options",
        help="Override config entries, KEY=VALUE (repeatable), e.g. train_cfg.max_epochs=2.",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")]
TrustCheckpointOpt = Annotated[
    bool,
    typer.Option(
        "--trust-checkpoint",
        help="Load the checkpoint(s) named on this command line without the safe-load allow-list. "
        "Only for files you trust: unpickling can run code.",
    ),
]
