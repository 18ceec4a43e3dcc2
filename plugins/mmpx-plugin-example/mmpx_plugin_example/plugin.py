"""The entry point of the plugin (group ``mmpx``): what it adds to mmpose-ext, as records.

Imports nothing heavy: ``mmpx --help`` loads this module. The host imports the modules named in
:func:`mmpx_modules` only when a command needs MMPose's registries (``mmpx train``).
"""

from __future__ import annotations

from mmpx.plugins import Command, ConfigFile, DoctorCheck, ModuleContribution, hookimpl

MMPX_PLUGIN_API = 1  # the plugin API this plugin is written for (docs/guides/plugins.md)


@hookimpl
def mmpx_modules() -> list[ModuleContribution]:
    return [
        ModuleContribution("MODELS", "ExampleTinyNet", "mmpx_plugin_example.backbone"),
        ModuleContribution("DATASETS", "ExampleShapesDataset", "mmpx_plugin_example.dataset"),
    ]


@hookimpl
def mmpx_cli_commands() -> list[Command]:
    # "module:function" references: cli.py is imported only when one of its commands is built
    return [Command("example-info", "mmpx_plugin_example.cli:example_info")]


@hookimpl
def mmpx_converters() -> list[Command]:
    return [Command("example-shapes", "mmpx_plugin_example.cli:convert_example_shapes")]


@hookimpl
def mmpx_configs() -> list[ConfigFile]:
    from mmpx_plugin_example import config_path

    # mmpx train example-smoke; a user's config: _base_ = ['mmpx::example-smoke']
    return [ConfigFile("example-smoke", config_path("smoke"),
                       "ExampleTinyNet + heatmap head on the synthetic kites; trains in seconds on a CPU")]


def _shapes_draw() -> str:
    from mmpx_plugin_example.shapes import draw_sample

    sample = draw_sample(0, 0, 32)
    return f"draws a {sample.img.shape[1]}x{sample.img.shape[0]} kite with {len(sample.keypoints)} keypoints"


@hookimpl
def mmpx_doctor_checks() -> list[DoctorCheck]:
    fix = "pip install --force-reinstall -e plugins/mmpx-plugin-example"
    return [DoctorCheck("shapes", _shapes_draw, fix=fix)]
