"""The plugin's command, ``mmpx __NAME__-info``.

Typer reads the annotated signature when ``mmpx`` starts: keep heavy imports inside the function.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer


def info(as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False) -> None:
    """Show what the __NAME__ plugin adds to mmpose-ext."""
    from mmpx.plugins import get_host

    from __PKG__ import __version__

    # asked of mmpx's plugin host, which loaded plugin.py (that names this module; neither imports the other)
    plugin = next(info for info in get_host().plugins() if info.module == "__PKG__.plugin")
    report = dict(version=__version__, api=plugin.api, hooks=plugin.hooks)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"__DIST__ {__version__} (plugin API {report['api']}): {', '.join(plugin.hooks)}")
