"""``mmpx publish``: a release file from a training checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mmpx.cli._guard import guarded
from mmpx.cli._options import TrustCheckpointOpt


@guarded(inputs=("checkpoint",), outputs=("out",))
def publish(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint written by training.", show_default=False)],
    out: Annotated[
        Path, typer.Argument(help="Release name, e.g. release/model.pth; the sha256 prefix is added.")
    ],
    trust_checkpoint: TrustCheckpointOpt = False,
) -> None:
    """Keep weights and metadata (dataset info, config), drop optimizer and resume state, add a sha256 prefix."""
    from mmpose_ext.apis import publish as run_publish
    from mmpose_ext.compat import checkpoint as safe_checkpoint

    if trust_checkpoint:
        safe_checkpoint.trust(str(checkpoint))
    final = run_publish(checkpoint, out)
    size = final.stat().st_size / 2**20
    typer.echo(f"published {final} ({size:.1f} MiB, from {checkpoint.stat().st_size / 2**20:.1f} MiB)")
