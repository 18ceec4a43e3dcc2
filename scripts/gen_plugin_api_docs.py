"""Write docs/reference/plugin-api.md, the reference of everything a plugin may import, from the docstrings.

Usage: python scripts/gen_plugin_api_docs.py [--check]   (--check: exit 1 if the file is out of date or a public
name of a covered module is neither documented nor declared internal)

The sources are read with ``ast`` (nothing is imported: no torch), so signatures and docstrings are exactly what
the code says. :data:`SECTIONS` chooses the names and gives each a stability; :data:`INTERNAL` names the public
names that are not for plugins, with why. An example comes from the docstring's ``Examples:`` section, else from
the entry here; ``tests/mmpx/plugins/test_plugin_api_docs.py`` runs every example.
"""

from __future__ import annotations

import ast
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "reference" / "plugin-api.md"

STABLE, PROVISIONAL = "stable", "provisional"
STABILITY = {
    STABLE: "kept as documented for plugin API 1 (`MMPX_PLUGIN_API = 1`): an incompatible change comes only with a "
            "new plugin API version, which the host announces (docs/guides/plugins.md, the plugin API version)",
    PROVISIONAL: "may change in a minor release of mmpose-ext; the change is noted in this file",
}


@dataclass(frozen=True)
class Entry:
    """One documented name: ``name`` (``Class.method`` for a method) in ``module``."""

    name: str
    stability: str
    example: str = ""  # doctest text, used when the docstring has no Examples section
    module: str = ""  # where it is imported from, when not the section's
    source: str = ""  # the file that defines it, when not the section's
    needs_stack: bool = False  # its example needs torch and mmpose (the section's flag covers a whole section)


@dataclass(frozen=True)
class Section:
    title: str
    intro: str
    module: str  # where the names are imported from
    source: str  # the file that defines them (relative to the checkout)
    entries: tuple[Entry, ...]
    needs_stack: bool = False  # importing the module imports torch and mmpose


# The modules whose public names (``__all__``, else top-level names without a leading underscore, and the public
# methods of documented classes) must all be documented or listed in INTERNAL.
COVERED = {
    "mmpx.plugins": "mmpx/plugins/__init__.py",
    "mmpx.plugins.hookspecs": "mmpx/plugins/hookspecs.py",
    "mmpx.plugins.types": "mmpx/plugins/types.py",
    "mmpx.errors": "mmpx/errors/__init__.py",
    "mmpx.metainfo": "mmpx/metainfo/__init__.py",
    "mmpx.atomic": "mmpx/atomic/__init__.py",
    "mmpx.atomic.guard": "mmpx/atomic/guard.py",
    "mmpx.convert.output": "mmpx/convert/output.py",
    "mmpose_ext.models.backbone": "mmpose_ext/models/backbone.py",
    "mmpx.testing": "mmpx/testing.py",
}

INTERNAL = {
    "mmpx.plugins.hookspec": "mmpx declares the hooks; a plugin implements them with hookimpl",
    "mmpx.plugins.load_plugins": "mmpx builds the process's host; a test builds its own with mmpx.testing.host_for",
    "mmpx.plugins.hookspecs.PROJECT": "the entry-point group, written out in docs/guides/plugins.md",
    "mmpx.plugins.hookspecs.hookspec": "mmpx declares the hooks; a plugin implements them with hookimpl",
    "mmpx.plugins.types.CommandLike": "a type alias of Command.target",
    "mmpx.plugins.types.Record": "a type alias of Contribution.item",
    "mmpx.plugins.PluginHost.record_error": "the host's bookkeeping",
    "mmpx.plugins.PluginHost.record_time": "the host's bookkeeping",
    "mmpx.plugins.PluginHost.is_builtin": "the host's bookkeeping",
    "mmpx.plugins.PluginInfo.as_dict": "the row of mmpx plugins list --json",
    "mmpx.plugins.Command.resolve": "the host resolves a command reference when it builds the command",
    "mmpx.errors.UntrustedCheckpointError": "raised by mmpx's checkpoint loader, not by plugins",
    "mmpx.metainfo.write_atomic": "use mmpx.atomic.write_text",
    "mmpx.atomic.TMP_PREFIX": "mmpx's naming of temporary files",
    "mmpx.atomic.clean_stale": "mmpx's housekeeping of temporary files",
    "mmpx.atomic.lock_tmp": "mmpx's housekeeping of temporary files",
    "mmpx.atomic.release": "mmpx's housekeeping of temporary files",
    "mmpx.atomic.file_mode": "a detail of the writers",
    "mmpx.atomic.fsync_dir": "a detail of the writers",
    "mmpx.atomic.tmp_name": "a detail of the writers",
    "mmpx.convert.output.STAGING_MARK": "a detail of staged_output",
    "mmpx.convert.output.IMAGE_MODES": "the options of mmpx's own converters",
    "mmpx.convert.output.PARTS": "a detail of staged_output",
    "mmpx.convert.output.recovered": "staged_output does it",
    "mmpx.convert.output.warn": "mmpx's own converters' messages",
    "mmpx.convert.output.ImagePlacer": "mmpx's own converters' image copying",
    "mmpx.convert.output.coco_category": "mmpx's own converters' COCO writing",
    "mmpx.convert.output.skeleton_and_swaps": "mmpx's own converters' COCO writing",
    "mmpose_ext.models.backbone.head_problems": "preflight's check, which mmpx train runs",
    "mmpose_ext.models.backbone.LAST_MAP_HEADS": "preflight's knowledge of MMPose's heads",
    "mmpose_ext.models.backbone.IMAGE_MODELS": "preflight's knowledge of MMPose's models",
}

SECTIONS = (
    Section("Hooks", "What a plugin module implements, each marked with `@hookimpl`; every hook takes no arguments "
            "and returns a list of records (below).", "mmpx.plugins.hookspecs", "mmpx/plugins/hookspecs.py", (
                Entry("mmpx_modules", STABLE),
                Entry("mmpx_cli_commands", STABLE),
                Entry("mmpx_converters", STABLE),
                Entry("mmpx_configs", STABLE),
                Entry("mmpx_doctor_checks", STABLE),
            )),
    Section("The plugin module", "The version a plugin declares and the marker of its hooks.", "mmpx.plugins",
            "mmpx/plugins/hookspecs.py", (
                Entry("API_VERSION", STABLE, """\
>>> from mmpx.plugins import API_VERSION
>>> API_VERSION  # a plugin module sets MMPX_PLUGIN_API = 1
1
"""),
                Entry("hookimpl", STABLE, """\
>>> from mmpx.plugins import DoctorCheck, hookimpl
>>> @hookimpl
... def mmpx_doctor_checks():
...     return [DoctorCheck("ready", lambda: "ok")]
"""),
            )),
    Section("Records", "What the hooks return (frozen dataclasses), and what the host hands back.", "mmpx.plugins",
            "mmpx/plugins/types.py", (
                Entry("ModuleContribution", STABLE, """\
>>> from mmpx.plugins import ModuleContribution
>>> ModuleContribution("MODELS", "WingsNet", "mmpx_wings.backbone").registry
'MODELS'
"""),
                Entry("Command", STABLE, """\
>>> from mmpx.plugins import Command
>>> Command("wings-info", "mmpx_wings.cli:info", help="Show what the wings plugin adds.").panel
'Plugins'
>>> Command("wings-csv", "mmpx_wings.convert:command", group="convert").group  # mmpx convert wings-csv
'convert'
"""),
                Entry("ConfigFile", STABLE, """\
>>> from mmpx.plugins import ConfigFile
>>> ConfigFile("wings-net-carpose", "configs/wings_net_carpose.py", "WingsNet on cars").path.name
'wings_net_carpose.py'
"""),
                Entry("DoctorCheck", STABLE, """\
>>> from mmpx.plugins import DoctorCheck
>>> DoctorCheck("wings", lambda: "mmpx-plugin-wings 0.1.0 imports", fix="pip install mmpx-plugin-wings").check()
'mmpx-plugin-wings 0.1.0 imports'
"""),
                Entry("CheckResult", STABLE, """\
>>> from mmpx.plugins import CheckResult
>>> CheckResult("wings: wings", True, "ok").ok
True
"""),
                Entry("Contribution", STABLE, """\
>>> from mmpx.plugins import Contribution, ModuleContribution
>>> Contribution("wings", ModuleContribution("MODELS", "WingsNet", "mmpx_wings.backbone")).name
'WingsNet'
"""),
                Entry("GROUPS", STABLE, module="mmpx.plugins.types", example="""\
>>> from mmpx.plugins.types import GROUPS
>>> GROUPS
('convert',)
"""),
                Entry("REGISTRIES", STABLE, module="mmpx.plugins.types", example="""\
>>> from mmpx.plugins.types import REGISTRIES
>>> "MODELS" in REGISTRIES and "TRANSFORMS" in REGISTRIES and "DATASETS" in REGISTRIES
True
"""),
            )),
    Section("The host", "`mmpx.testing.host_for(...)` returns one: the plugins as mmpx sees them, to check a "
            "plugin's hooks in a unit test without installing it.", "mmpx.plugins", "mmpx/plugins/manager.py", (
                Entry("PluginHost", STABLE, """\
>>> from mmpx.plugins import ModuleContribution, hookimpl
>>> from mmpx.testing import host_for
>>> class Wings:
...     MMPX_PLUGIN_API = 1
...     @hookimpl
...     def mmpx_modules(self):
...         return [ModuleContribution("MODELS", "WingsNet", "mmpx_wings.backbone")]
>>> host = host_for(Wings(), names=["wings"])
>>> [(c.plugin, c.name) for c in host.modules()]
[('wings', 'WingsNet')]
"""),
                Entry("PluginHost.plugins", STABLE, """\
>>> from mmpx.testing import host_for
>>> class Wings:
...     MMPX_PLUGIN_API = 1
>>> [(p.name, p.status, p.api) for p in host_for(Wings(), builtins=False).plugins()]
[('wings', 'loaded', 1)]
"""),
                Entry("PluginHost.modules", STABLE, """\
>>> from mmpx.testing import host_for
>>> host_for(builtins=False).modules()
[]
"""),
                Entry("PluginHost.commands", STABLE, """\
>>> from mmpx.testing import host_for
>>> [(c.item.group, c.name) for c in host_for().commands() if c.item.group]
[('convert', 'dlc'), ('convert', 'labelme'), ('convert', 'labelstudio'), ('convert', 'nwb'), ('convert', 'sleap'),
 ('convert', 'to-yolo'), ('convert', 'yolo')]
"""),
                Entry("PluginHost.cli_commands", STABLE, """\
>>> from mmpx.testing import host_for
>>> "train" in [c.name for c in host_for().cli_commands()]
True
"""),
                Entry("PluginHost.converters", STABLE, """\
>>> from mmpx.testing import host_for
>>> [c.name for c in host_for().converters()]
['dlc', 'labelme', 'labelstudio', 'nwb', 'sleap', 'to-yolo', 'yolo']
"""),
                Entry("PluginHost.configs", STABLE, """\
>>> from mmpx.testing import host_for
>>> "carpose-quickstart" in [c.name for c in host_for().configs()]
True
"""),
                Entry("PluginHost.config_file", STABLE, """\
>>> from mmpx.testing import host_for
>>> host_for().config_file("carpose-quickstart").name
'carpose_quickstart.py'
"""),
                Entry("PluginHost.doctor_checks", STABLE, """\
>>> from mmpx.plugins import DoctorCheck, hookimpl
>>> from mmpx.testing import host_for
>>> class Wings:
...     MMPX_PLUGIN_API = 1
...     @hookimpl
...     def mmpx_doctor_checks(self):
...         return [DoctorCheck("wings", lambda: "ok")]
>>> [c.name for c in host_for(Wings()).doctor_checks()]
['wings']
"""),
                Entry("PluginHost.run_doctor_checks", STABLE, """\
>>> from mmpx.plugins import DoctorCheck, hookimpl
>>> from mmpx.testing import host_for
>>> def broken():
...     raise RuntimeError("the model file is missing")
>>> class Wings:
...     MMPX_PLUGIN_API = 1
...     @hookimpl
...     def mmpx_doctor_checks(self):
...         return [DoctorCheck("weights", broken, fix="mmpx wings-download")]
>>> [(r.name, r.ok, r.fix) for r in host_for(Wings()).run_doctor_checks()]
[('wings: weights', False, 'mmpx wings-download')]
"""),
                Entry("get_host", STABLE, """\
>>> from mmpx.plugins import get_host
>>> "mmpx.cli.builtin" in [p.name for p in get_host().plugins()]  # in a plugin's command: what mmpx loaded
True
"""),
                Entry("PluginInfo", PROVISIONAL, """\
>>> from mmpx.testing import host_for
>>> class Wings:
...     MMPX_PLUGIN_API = 1
>>> info = host_for(Wings(), builtins=False).plugins()[0]
>>> info.name, info.status, info.errors
('wings', 'loaded', [])
"""),
            )),
    Section("Errors", "Raise these for input a user can fix: the CLI prints one line and the hint, exit code 1. "
            "Anything else raised from a plugin's code is reported naming the plugin, its version and its "
            "project URL.", "mmpx.errors", "mmpx/errors/__init__.py", (
                Entry("MmpxError", STABLE, """\
>>> from mmpx.errors import MmpxError
>>> str(MmpxError("labels.csv, line 3: visibility '7'", "0 not labelled, 1 occluded, 2 visible"))
"labels.csv, line 3: visibility '7' (hint: 0 not labelled, 1 occluded, 2 visible)"
"""),
                Entry("ConfigError", STABLE, """\
>>> from mmpx.errors import ConfigError, MmpxError
>>> issubclass(ConfigError, MmpxError)
True
"""),
                Entry("CheckpointError", STABLE, """\
>>> from mmpx.errors import CheckpointError
>>> CheckpointError("wings.pth is not a checkpoint", "give the .pth that mmpx train wrote").hint
'give the .pth that mmpx train wrote'
"""),
                Entry("PluginError", PROVISIONAL, """\
>>> from mmpx.errors import MmpxError, PluginError
>>> issubclass(PluginError, MmpxError)
True
"""),
            )),
    Section("Metainfo", "MMPose's `dataset_info` dicts and files, torch-free.", "mmpx.metainfo",
            "mmpx/metainfo/build.py", (
                Entry("build_metainfo", STABLE, """\
>>> from mmpx.metainfo import build_metainfo
>>> info = build_metainfo("wings", ["nose", "left_ear", "right_ear"], skeleton=[("nose", "left_ear")])
>>> info["keypoint_info"][1]["swap"], info["sigmas"]
('right_ear', [0.025, 0.025, 0.025])
"""),
                Entry("infer_swaps", STABLE, source="mmpx/metainfo/names.py", example="""\
>>> from mmpx.metainfo import infer_swaps
>>> infer_swaps(["nose", "L_Eye", "R_Eye", "left-wing-tip", "right-wing-tip"])
{'L_Eye': 'R_Eye', 'R_Eye': 'L_Eye', 'left-wing-tip': 'right-wing-tip', 'right-wing-tip': 'left-wing-tip'}
"""),
                Entry("dumps", STABLE, source="mmpx/metainfo/io.py", example="""\
>>> from mmpx.metainfo import build_metainfo, dumps
>>> text = dumps(build_metainfo("wings", ["nose"]))  # the text of a metainfo.py that a config's from_file reads
>>> text.splitlines()[1].startswith("dataset_info = {'dataset_name': 'wings'")
True
"""),
                Entry("write_metainfo", STABLE, source="mmpx/metainfo/io.py", example="""\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.metainfo import build_metainfo, load_metainfo, write_metainfo
>>> path = Path(tempfile.mkdtemp()) / "metainfo.py"
>>> write_metainfo(path, build_metainfo("wings", ["nose", "tail"]))
>>> load_metainfo(path)["dataset_name"]
'wings'
"""),
                Entry("load_metainfo", STABLE, source="mmpx/metainfo/io.py", example="""\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.metainfo import build_metainfo, keypoint_names, load_metainfo, write_metainfo
>>> path = Path(tempfile.mkdtemp()) / "metainfo.py"
>>> write_metainfo(path, build_metainfo("wings", ["nose", "tail"]))
>>> keypoint_names(load_metainfo(path))
['nose', 'tail']
"""),
                Entry("keypoint_names", STABLE, """\
>>> from mmpx.metainfo import build_metainfo, keypoint_names
>>> keypoint_names(build_metainfo("wings", ["nose", "tail"]))
['nose', 'tail']
"""),
                Entry("metainfo_from_coco", STABLE, source="mmpx/metainfo/coco.py", example="""\
>>> import json, tempfile
>>> from pathlib import Path
>>> from mmpx.metainfo import metainfo_from_coco
>>> path = Path(tempfile.mkdtemp()) / "train.json"
>>> category = dict(id=1, name="bird", keypoints=["beak", "left_wing", "right_wing"], skeleton=[[1, 2], [1, 3]])
>>> _ = path.write_text(json.dumps(dict(images=[], annotations=[], categories=[category])))
>>> info = metainfo_from_coco(path, dataset_name="wings")
>>> info["keypoint_info"][1]["swap"], info["skeleton_info"][0]["link"]
('right_wing', ('beak', 'left_wing'))
"""),
                Entry("validate_metainfo", PROVISIONAL, source="mmpx/metainfo/rules.py", example="""\
>>> from mmpx.metainfo import build_metainfo, validate_metainfo
>>> validate_metainfo(build_metainfo("wings", ["nose", "tail"]), "metainfo.py")
[]
"""),
                Entry("build_classes_metainfo", PROVISIONAL, source="mmpx/metainfo/classes.py", example="""\
>>> from mmpx.metainfo import build_classes_metainfo, keypoint_names
>>> info = build_classes_metainfo("street", [dict(id=1, name="car", keypoints=["left_light", "right_light"]),
...                                          dict(id=2, name="bicycle", keypoints=["front_wheel", "rear_wheel"])])
>>> keypoint_names(info), info["keypoint_info"][0]["swap"]
(['car/left_light', 'car/right_light', 'bicycle/front_wheel', 'bicycle/rear_wheel'], 'car/right_light')
"""),
                Entry("keypoint_classes", PROVISIONAL, source="mmpx/metainfo/classes.py", example="""\
>>> from mmpx.metainfo import build_classes_metainfo, build_metainfo, keypoint_classes
>>> info = build_classes_metainfo("street", [dict(id=1, name="car", keypoints=["left_light", "right_light"]),
...                                          dict(id=2, name="bicycle", keypoints=["front_wheel", "rear_wheel"])])
>>> [(c.name, c.start, c.stop) for c in keypoint_classes(info)], keypoint_classes(build_metainfo("x", ["nose"]))
([('car', 0, 2), ('bicycle', 2, 4)], None)
"""),
                Entry("KeypointClass", PROVISIONAL, source="mmpx/metainfo/classes.py", example="""\
>>> from mmpx.metainfo import KeypointClass
>>> KeypointClass(id=2, name="bicycle", keypoints=("front_wheel", "rear_wheel"), start=2).union_names
['bicycle/front_wheel', 'bicycle/rear_wheel']
"""),
                Entry("name_words", PROVISIONAL, source="mmpx/metainfo/names.py", example="""\
>>> from mmpx.metainfo import name_words
>>> name_words("L_F_Paw")
('left', ['front', 'paw'])
"""),
                Entry("name_key", PROVISIONAL, source="mmpx/metainfo/names.py", example="""\
>>> from mmpx.metainfo import name_key
>>> name_key("Eye_Left"), name_key("left-eye", side="right")
('lefteye', 'righteye')
"""),
            )),
    Section("Writing files", "A reader sees the old file or the complete new one, never a part.", "mmpx.atomic",
            "mmpx/atomic/__init__.py", (
                Entry("write_text", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import write_text
>>> path = Path(tempfile.mkdtemp()) / "notes.txt"
>>> write_text(path, "done\\n")
>>> path.read_text()
'done\\n'
"""),
                Entry("write_json", STABLE, """\
>>> import json, tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import write_json
>>> path = Path(tempfile.mkdtemp()) / "report.json"
>>> write_json(path, dict(images=3))
>>> json.loads(path.read_text())
{'images': 3}
"""),
                Entry("write_bytes", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import write_bytes
>>> path = Path(tempfile.mkdtemp()) / "blob.bin"
>>> write_bytes(path, b"\\x00\\x01")
>>> path.read_bytes()
b'\\x00\\x01'
"""),
                Entry("atomic_open", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import atomic_open
>>> path = Path(tempfile.mkdtemp()) / "rows.csv"
>>> with atomic_open(path, "w", encoding="utf-8") as f:
...     _ = f.write("image,x,y\\n")
>>> path.read_text()
'image,x,y\\n'
"""),
                Entry("atomic_path", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import atomic_path
>>> path = Path(tempfile.mkdtemp()) / "weights.pth"
>>> with atomic_path(path) as tmp:  # give tmp to a writer that wants a file name (torch.save, cv2.imwrite)
...     _ = tmp.write_bytes(b"weights")
>>> path.read_bytes()
b'weights'
"""),
                Entry("replace_dir", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import replace_dir
>>> root = Path(tempfile.mkdtemp())
>>> (root / "new").mkdir(); _ = (root / "new" / "a.txt").write_text("a")
>>> replace_dir(root / "new", root / "data")
[]
>>> sorted(p.name for p in (root / "data").iterdir())
['a.txt']
"""),
                Entry("check_writable", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic import check_writable
>>> root = Path(tempfile.mkdtemp()); _ = (root / "taken").write_text("a file")
>>> check_writable(root / "out.json", "--out")  # fine: nothing raised
>>> try:
...     check_writable(root / "taken" / "out.json", "--out")
... except Exception as exc:
...     print(type(exc).__name__)
MmpxError
"""),
            )),
    Section("The output guard", "Before any work, the paths a command writes against the paths it reads.",
            "mmpx.atomic.guard", "mmpx/atomic/guard.py", (
                Entry("check_apart", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.atomic.guard import check_apart
>>> root = Path(tempfile.mkdtemp())
>>> check_apart({"OUT": root / "converted"}, {"SRC": root / "labels"})  # apart: nothing raised
>>> try:
...     check_apart({"OUT": root / "labels" / "out"}, {"SRC": root / "labels"})
... except Exception as exc:
...     print(str(exc).split(":")[0])
OUT ... lies inside the input SRC (...)
"""),
                Entry("relation", PROVISIONAL, """\
>>> from mmpx.atomic.guard import relation
>>> relation("/data/labels/out", "/data/labels"), relation("/data/out", "/data/labels")
('lies inside', None)
"""),
            )),
    Section("A converter's output folder", "What `mmpx convert` does with OUT, for a plugin's converter: the same "
            "guard, the same `--overwrite` rule, the same train/val split.", "mmpx.convert.output",
            "mmpx/convert/output.py", (
                Entry("staged_output", STABLE, """\
>>> import json, tempfile
>>> from pathlib import Path
>>> from mmpx.convert.output import staged_output
>>> root = Path(tempfile.mkdtemp())
>>> with staged_output(root / "out", overwrite=False, inputs=[root / "labels.csv"]) as staging:
...     _ = (staging / "report.json").write_text(json.dumps(dict(converter="wings-csv", out=str(root / "out"))))
>>> sorted(p.name for p in (root / "out").iterdir())
['report.json']
"""),
                Entry("check_out", STABLE, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.convert.output import check_out
>>> root = Path(tempfile.mkdtemp()); (root / "mine").mkdir(); _ = (root / "mine" / "thesis.tex").write_text("x")
>>> try:
...     check_out(root / "mine", overwrite=True)
... except Exception as exc:
...     print("refused:", "not written by an mmpx conversion" in str(exc))
refused: True
"""),
                Entry("val_indices", STABLE, """\
>>> from mmpx.convert.output import val_indices
>>> len(val_indices(10, 0.2, seed=0)), val_indices(10, 0.2, seed=0) == val_indices(10, 0.2, seed=0)
(2, True)
"""),
                Entry("written_by_mmpx", PROVISIONAL, """\
>>> import tempfile
>>> from pathlib import Path
>>> from mmpx.convert.output import written_by_mmpx
>>> written_by_mmpx(Path(tempfile.mkdtemp()))
False
"""),
            )),
    Section("The backbone protocol", "What preflight and `--freeze` use (docs/guides/plugins.md, the backbone "
            "protocol); imports torch.", "mmpose_ext.models.backbone", "mmpose_ext/models/backbone.py", (
                Entry("measure", STABLE, """\
>>> import torch
>>> from mmpose_ext.models.backbone import measure
>>> class Net(torch.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.conv = torch.nn.Conv2d(3, 16, 3, stride=4, padding=1)
...     def forward(self, x):
...         return (self.conv(x),)
>>> found = measure(Net(), (64, 96))  # (width, height)
>>> found.channels, found.sizes, found.strides
((16,), ((16, 24),), (4.0,))
"""),
                Entry("BackboneOutputs", STABLE, """\
>>> from mmpose_ext.models.backbone import BackboneOutputs
>>> BackboneOutputs(channels=(16,), sizes=((16, 24),), strides=(4.0,)).channels[-1]
16
"""),
                Entry("declared_stages", PROVISIONAL, """\
>>> import torch
>>> from mmpose_ext.models.backbone import declared_stages
>>> net = torch.nn.Module()
>>> net.mmpx_stem, net.mmpx_stages = ("stem",), ("stages.0", "stages.1")
>>> declared_stages(net)
(('stem',), ('stages.0', 'stages.1'))
"""),
            ), needs_stack=True),
    Section("Testing a plugin", "Helpers for a plugin's own tests (pytest); light to import.", "mmpx.testing",
            "mmpx/testing.py", (
                Entry("host_for", STABLE, """\
>>> from mmpx.plugins import Command, hookimpl
>>> from mmpx.testing import host_for
>>> class Wings:
...     MMPX_PLUGIN_API = 1
...     @hookimpl
...     def mmpx_cli_commands(self):
...         return [Command("wings-info", "mmpx_wings.cli:info")]
>>> [c.name for c in host_for(Wings()).cli_commands() if c.plugin == "wings"]
['wings-info']
"""),
                Entry("run_cli", STABLE, """\
>>> from mmpx.testing import run_cli
>>> result = run_cli("configs", "path", "carpose-quickstart")
>>> result.exit_code, result.stdout.strip().endswith("carpose_quickstart.py")
(0, True)
"""),
                Entry("CliResult", STABLE, """\
>>> from mmpx.testing import CliResult
>>> CliResult(0, '{"api": 1}', "").json()
{'api': 1}
"""),
                Entry("CliResult.json", STABLE, """\
>>> from mmpx.testing import run_cli
>>> rows = run_cli("configs", "list", "--json").json()
>>> "carpose-quickstart" in [row["name"] for row in rows]
True
"""),
                Entry("plugin_loads", STABLE, """\
>>> from mmpx.testing import plugin_loads
>>> row = plugin_loads("wings")  # doctest: +SKIP
>>> row["status"], row["api"]  # doctest: +SKIP
('loaded', 1)
"""),
                Entry("carpose_data", STABLE, """\
>>> import tempfile
>>> from mmpx.testing import carpose_data
>>> data = carpose_data(tempfile.mkdtemp(), n=4, size=64)
>>> sorted(p.name for p in (data / "annotations").iterdir())
['train.json', 'val.json']
"""),
                Entry("train_briefly", STABLE, """\
>>> from mmpx.testing import train_briefly
>>> checkpoint = train_briefly("wings-net-carpose", "work", cfg_options=["train_dataloader.dataset.data_root=data"])
... # doctest: +SKIP
>>> checkpoint.name  # doctest: +SKIP
'epoch_1.pth'
"""),
                Entry("mmpose_tool", STABLE, needs_stack=True, example="""\
>>> from mmpx.testing import mmpose_tool
>>> mmpose_tool("train.py").name  # run it as: python PATH CONFIG --work-dir DIR
'train.py'
"""),
                Entry("block_network", STABLE),
                Entry("no_network", STABLE, """\
>>> # conftest.py of a plugin:
>>> from mmpx.testing import no_network  # noqa: F401  (a fixture: any network access fails the test)
"""),
                Entry("NetworkBlocked", STABLE, """\
>>> from mmpx.testing import NetworkBlocked, block_network
>>> import socket
>>> with block_network():
...     try:
...         socket.create_connection(("example.com", 80), timeout=1)
...     except NetworkBlocked:
...         print("blocked")
blocked
"""),
            )),
)


# -- reading the sources ---------------------------------------------------------------------------------------


def _tree(source: str) -> ast.Module:
    return ast.parse((ROOT / source).read_text(encoding="utf-8"))


def _all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    return None


def _top_level(tree: ast.Module | ast.If) -> dict[str, ast.AST]:
    """Names a module defines: functions, classes and assigned constants (in ``if`` blocks too)."""
    found: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.If):
            found.update({k: v for k, v in _top_level(node).items() if k not in found})
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            found[node.target.id] = node
    return found


def public_names(module: str, source: str) -> list[str]:
    """``__all__`` (a re-exporting ``__init__`` too), else the defined names without a leading underscore."""
    tree = _tree(source)
    names = _all(tree)
    if names is None:
        names = [n for n in _top_level(tree) if not n.startswith("_") and n != "annotations"]
    return names


def source_of(section: Section, entry: Entry) -> str:
    return entry.source or section.source


def find(section: Section, entry: Entry) -> ast.AST:
    """The definition of ``entry.name`` (``Class.method``) in its source file."""
    source = source_of(section, entry)
    top, _, method = entry.name.partition(".")
    node = _top_level(_tree(source)).get(top)
    if node is None:
        raise KeyError(f"{source} defines no {top}")
    if method:
        node = next((n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.name == method), None)
        if node is None:
            raise KeyError(f"{source}: {top} has no method {method}")
    return node


def docstring(node: ast.AST) -> str:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return ast.get_docstring(node) or ""
    return ""


def comment_of(source: str, node: ast.AST) -> str:
    """A constant's documentation: the comment lines right above its assignment."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return ""
    lines = (ROOT / source).read_text(encoding="utf-8").splitlines()
    found, i = [], node.lineno - 2
    while i >= 0 and lines[i].lstrip().startswith("#"):
        found.insert(0, lines[i].lstrip("# ").rstrip())
        i -= 1
    return " ".join(found)


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any("dataclass" in ast.unparse(d) for d in node.decorator_list)


def signature(name: str, node: ast.AST) -> str:
    short = name.rpartition(".")[2] if "." in name else name
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = ast.unparse(node.args)
        if "." in name:  # a method: no self
            args = re.sub(r"^self(, )?", "", args)
        returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
        return _wrap(short, args, returns)
    if isinstance(node, ast.ClassDef):
        if _is_dataclass(node):
            fields = [ast.unparse(n) for n in node.body if isinstance(n, ast.AnnAssign)]
            return _wrap(short, ", ".join(fields), "")
        init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
        if init is not None:
            return _wrap(short, re.sub(r"^self(, )?", "", ast.unparse(init.args)), "")
        bases = ", ".join(ast.unparse(b) for b in node.bases)
        return f"class {short}({bases})"
    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
    text = ast.unparse(value) if value is not None else "..."
    return f"{short} = {text if len(text) <= 100 else text[:97] + '...'}"


def _wrap(name: str, args: str, returns: str) -> str:
    one = f"{name}({args}){returns}"
    if len(one) <= 110:
        return one
    parts, depth, current = [], 0, ""
    for char in args:  # split at top-level commas only
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    parts.append(current.strip())
    return f"{name}(\n" + "".join(f"    {p},\n" for p in parts if p) + f"){returns}"


# -- rendering -------------------------------------------------------------------------------------------------

_SECTION = re.compile(r"^(Args|Arguments|Returns|Raises|Yields|Attributes|Examples?):\s*(.*)$")


def _markdown(text: str) -> str:
    text = re.sub(r":(?:func|class|data|mod|meth|attr|exc):`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def split_doc(doc: str) -> tuple[str, str]:
    """``(text as Markdown, the Examples section as doctest text)``."""
    out, example, section, items = [], [], None, []

    def flush():
        if section and items:
            out.append(f"**{section}**\n")
            for item in items:
                key, sep, rest = item.partition(": ")
                out.append(f"- `{key}`: {_markdown(rest)}" if sep and " " not in key.strip("*") else
                           f"- {_markdown(item)}")
            out.append("")
        items.clear()

    for line in doc.splitlines():
        match = _SECTION.match(line)
        if match:
            flush()
            section = "Examples" if match.group(1).startswith("Example") else match.group(1)
            if match.group(2):
                items.append(match.group(2))
            continue
        if section == "Examples":
            example.append(line)
        elif section:
            if not line.strip():
                continue
            if line.startswith("    ") and not line.startswith("        ") or not items:
                items.append(line.strip())
            else:
                items[-1] += " " + line.strip()
        else:
            out.append(_markdown(line))
    flush()
    return "\n".join(out).strip(), textwrap.dedent("\n".join(example)).strip()


def example_of(section: Section, entry: Entry) -> str:
    _, from_doc = split_doc(docstring(find(section, entry)))
    return from_doc or textwrap.dedent(entry.example).strip()


def import_line(section: Section, entry: Entry) -> str:
    top = entry.name.partition(".")[0]
    if section.title == "Hooks":
        return "implemented in your plugin module with `@hookimpl`"
    return f"`from {entry.module or section.module} import {top}`"


def render() -> str:
    parts = [
        "# Plugin API reference\n",
        "Everything a plugin may import from mmpose-ext, with its signature, what it does and one example. "
        "Generated by `python scripts/gen_plugin_api_docs.py` from the docstrings (and, where a docstring has no "
        "example, from the script's own); `tests/mmpx/plugins/test_plugin_api_docs.py` fails when this file is out of "
        "date, when a public name of these modules is neither here nor declared internal in the script, and when "
        "an example stops running. How the pieces fit together: [plugins.md](../guides/plugins.md).\n",
        "Stability:\n",
        *(f"- **{level}**: {meaning}." for level, meaning in STABILITY.items()),
        "\nAnything else in `mmpx` and `mmpose_ext` is internal: it may change in any release.\n",
        "| name | import | stability |",
        "| --- | --- | --- |",
    ]
    for section in SECTIONS:
        for entry in section.entries:
            anchor = re.sub(r"[^a-z0-9_-]", "", entry.name.lower().replace(" ", "-"))
            where = "a hook: `@hookimpl`" if section.title == "Hooks" else f"`{entry.module or section.module}`"
            parts.append(f"| [`{entry.name}`](#{anchor}) | {where} | {entry.stability} |")
    for section in SECTIONS:
        parts.append(f"\n## {section.title}\n")
        parts.append(section.intro + "\n")
        for entry in section.entries:
            node = find(section, entry)
            doc = docstring(node) or comment_of(source_of(section, entry), node)
            text, _ = split_doc(doc)
            parts.append(f"### {entry.name}\n")
            parts.append(f"*{entry.stability}* · {import_line(section, entry)}\n")
            parts.append("```python\n" + signature(entry.name, node) + "\n```\n")
            if text:
                parts.append(text + "\n")
            example = example_of(section, entry)
            if example:
                parts.append("```pycon\n" + example + "\n```\n")
    return "\n".join(parts).rstrip() + "\n"


# -- checking --------------------------------------------------------------------------------------------------


def problems(sections=SECTIONS, covered=COVERED, internal=INTERNAL) -> list[str]:
    """Every way the reference falls short: a public name neither documented nor internal, a documented name
    without a docstring or an example, a documented name that no longer exists."""
    found = []
    documented = {}
    for section in sections:
        for entry in section.entries:
            documented[f"{entry.module or section.module}.{entry.name}"] = (section, entry)
            try:
                node = find(section, entry)
            except KeyError as exc:
                found.append(f"{section.module}.{entry.name}: {exc.args[0]}")
                continue
            if not (docstring(node) or comment_of(source_of(section, entry), node)):
                found.append(f"{section.module}.{entry.name} ({source_of(section, entry)}): no docstring")
            if not example_of(section, entry):
                found.append(f"{section.module}.{entry.name}: no example (a docstring Examples section, or one in "
                             "scripts/gen_plugin_api_docs.py)")
    # a name is documented when any section documents the object, whichever module re-exports it
    by_short = {}
    for section, entry in documented.values():
        by_short.setdefault(entry.name, set()).add(source_of(section, entry))
    for module, source in covered.items():
        for name in public_names(module, source):
            full = f"{module}.{name}"
            if full in internal or full in documented or _defined_elsewhere(module, source, name, by_short):
                continue
            found.append(f"{full} is public but not in docs/reference/plugin-api.md: document it (a docstring, an "
                         "entry in scripts/gen_plugin_api_docs.py) or declare it internal there")
    for section in sections:  # public methods of documented classes
        for entry in section.entries:
            node = _safe_find(section, entry)
            if not isinstance(node, ast.ClassDef) or "." in entry.name:
                continue
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and not item.name.startswith("_") and not any(
                        "property" in ast.unparse(d) for d in item.decorator_list):
                    full = f"{section.module}.{entry.name}.{item.name}"
                    if full not in internal and full not in documented:
                        found.append(f"{full} is a public method but not in docs/reference/plugin-api.md: document "
                                     "it or declare it internal in scripts/gen_plugin_api_docs.py")
    return found


def _safe_find(section: Section, entry: Entry):
    try:
        return find(section, entry)
    except KeyError:
        return None


def _defined_elsewhere(module: str, source: str, name: str, by_short: dict) -> bool:
    """A re-export (``mmpx.plugins.ModuleContribution``) counts as documented where the object is defined."""
    tree = _tree(source)
    if name in _top_level(tree):  # defined here: must be documented under this module
        return name in by_short and source in by_short[name]
    return name in by_short


def main() -> None:
    found = problems()
    text = render()
    if "--check" in sys.argv:
        if found:
            sys.exit("\n".join(found))
        if not DOC.is_file() or DOC.read_text(encoding="utf-8") != text:
            sys.exit(f"{DOC} is out of date: run python scripts/gen_plugin_api_docs.py")
        return
    if found:
        print("\n".join(found), file=sys.stderr)
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
