"""The entry point of the plugin (group ``mmpx``): what it adds to mmpose-ext, as records.

Imports nothing heavy (no torch, no transformers): ``mmpx --help`` loads this module. The command is a lazy
reference and the backbone module is imported by the host only when a command needs MMPose's registries.
"""

from __future__ import annotations

from mmpx.plugins import Command, ConfigFile, DoctorCheck, ModuleContribution, hookimpl

MMPX_PLUGIN_API = 1


@hookimpl
def mmpx_modules() -> list[ModuleContribution]:
    return [ModuleContribution("MODELS", "HFBackbone", "mmpx_transformers.backbone")]


@hookimpl
def mmpx_cli_commands() -> list[Command]:
    return [Command("transformers-info", "mmpx_transformers.cli:info",
                    help="Stage channels and strides of a transformers backbone, and the head settings "
                         "that follow.")]


@hookimpl
def mmpx_configs() -> list[ConfigFile]:
    from mmpx_transformers import CONFIGS, config_paths

    paths = config_paths()
    return [ConfigFile(name, paths[name], summary) for name, (_, summary) in CONFIGS.items()]


@hookimpl
def mmpx_doctor_checks() -> list[DoctorCheck]:
    from mmpx_transformers.doctor import autobackbone_builds

    return [DoctorCheck("AutoBackbone", autobackbone_builds, fix='pip install "transformers>=5,<6"')]
