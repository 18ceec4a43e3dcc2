"""The plugin's commands: ``mmpx example-info`` and ``mmpx convert example-shapes``.

Typer reads the annotated signatures when ``mmpx`` starts, so the work is imported inside the functions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def example_info(
    config: Annotated[
        str | None,
        typer.Option("--config", help="Print only the path of this shipped config, e.g. smoke.",
                     show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")] = False,
) -> None:
    """Show the example plugin's shipped configs and what it adds to MMPose and mmpx.

    Train the smoke config with: mmpx train "$(mmpx example-info --config smoke)" --work-dir DIR
    """
    from mmpx.errors import MmpxError

    from mmpx_plugin_example import __version__, config_paths

    configs = config_paths()
    if config is not None:
        if config not in configs:
            shipped = ", ".join(sorted(configs))
            raise MmpxError(f"no shipped config named {config!r}", f"shipped configs: {shipped}")
        typer.echo(str(configs[config]))
        return
    modules, commands, converters = _contributions()
    info = dict(
        version=__version__,
        configs={name: str(path) for name, path in sorted(configs.items())},
        modules=[dict(registry=m.registry, name=m.name, module=m.module) for m in modules],
        commands=[c.name for c in commands],
        converters=[c.name for c in converters],
    )
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"mmpx-plugin-example {info['version']}")
    typer.echo("configs:")
    for name, path in info["configs"].items():
        typer.echo(f"  {name}: {path}")
    typer.echo("registers (custom_imports names the module):")
    for m in info["modules"]:
        typer.echo(f"  {m['registry']}: {m['name']}  ({m['module']})")
    typer.echo(f"commands: {', '.join('mmpx ' + c for c in info['commands'])}")
    typer.echo(f"converters: {', '.join('mmpx convert ' + c for c in info['converters'])}")


def _contributions() -> tuple[list, list, list]:
    """What this plugin adds, as mmpx loaded it (asked of the host: plugin.py names this module, it does not
    import it, and this module does not import plugin.py)."""
    from mmpx.plugins import get_host

    host = get_host()
    name = next(info.name for info in host.plugins() if info.module == "mmpx_plugin_example.plugin")
    return tuple([c.item for c in found if c.plugin == name]
                 for found in (host.modules(), host.cli_commands(), host.converters()))


def convert_example_shapes(
    out: Annotated[Path, typer.Argument(help="Output folder.", show_default=False)],
    n: Annotated[int, typer.Option("--n", min=1, help="Number of images.")] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the set (same seed, same images).")] = 0,
    img_size: Annotated[int, typer.Option("--img-size", min=32, help="Image width and height.")] = 96,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a dataset already in OUT.")] = False,
) -> None:
    """Write the synthetic kites (4 keypoints each) as COCO keypoints: PNG images, JSON and metainfo.py."""
    from mmpx_plugin_example.convert import write_example_shapes

    ann = write_example_shapes(out, n=n, seed=seed, img_size=img_size, overwrite=overwrite)
    typer.echo(f"wrote {n} images to {ann.parent / 'images'}, annotations to {ann}, "
               f"metainfo to {ann.parent / 'metainfo.py'}")
