"""The plugin's command, ``mmpx __NAME__-info``.

Typer reads the annotated signature when ``mmpx`` starts: keep heavy imports inside the function.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer


def info(as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False) -> None:
    """Show what the __NAME__ plugin adds to mmpose-ext."""
    from __PKG__ import __version__, plugin

    hooks = sorted(name for name in dir(plugin) if name.startswith("mmpx_"))
    report = dict(version=__version__, api=plugin.MMPX_PLUGIN_API, hooks=hooks)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"__DIST__ {__version__} (plugin API {report['api']}): {', '.join(hooks)}")
