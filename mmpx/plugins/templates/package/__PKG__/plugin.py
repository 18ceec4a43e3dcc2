"""The entry point of the __NAME__ plugin: what it adds to mmpose-ext, as records.

Keep it light (no torch, no mmpose at the top): ``mmpx --help`` imports this module. Nothing in the package
imports it: its commands are "module:function" references, which mmpx imports when it builds them.
"""

from __future__ import annotations

#[backbone]
from importlib import resources

#[/backbone]
from mmpx.plugins import __PLUGIN_IMPORTS__

MMPX_PLUGIN_API = 1  # the plugin API this plugin is written for


#[modules]
@hookimpl
def mmpx_modules() -> list[ModuleContribution]:
    # imported only when a command needs MMPose's registries (mmpx train, test, export, ...)
    return [
        __MODULE_RECORDS__,
    ]


#[/modules]
#[backbone]
@hookimpl
def mmpx_configs() -> list[ConfigFile]:
    folder = resources.files("__PKG__") / "configs"
    return [ConfigFile("__NAME__-net-carpose", folder / "__NAME_ID___net_carpose.py",
                       "__CLASS__ + heatmap head, 8 car keypoints at 96x96")]


#[/backbone]
#[command]
@hookimpl
def mmpx_cli_commands() -> list[Command]:
    # a "module:function" reference: its module is imported only when this command runs
    return [Command("__NAME__-info", "__PKG__.cli:info", help="Show what the __NAME__ plugin adds.")]


#[/command]
#[converter]
@hookimpl
def mmpx_converters() -> list[Command]:
    # mmpx convert __NAME__-csv; its module is imported only when that command runs
    return [Command("__NAME__-csv", "__PKG__.convert:command")]


#[/converter]
def _healthy() -> str:
    from __PKG__ import __version__

    return f"__DIST__ {__version__} imports"


@hookimpl
def mmpx_doctor_checks() -> list[DoctorCheck]:
    # a row of `mmpx doctor`: return a short value when healthy, raise with what is wrong when not
    return [DoctorCheck("__NAME__", _healthy, fix="pip install --force-reinstall __DIST__")]
