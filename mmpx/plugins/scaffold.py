"""``mmpx plugins new``: write a plugin package that installs and passes its own tests as it is.

The files come from ``mmpx/plugins/templates/package`` with ``__NAME__``-style placeholders (plain text
replacement: the templates are valid Python and TOML as far as possible, and need no brace escaping), and
``#[piece]`` ... ``#[/piece]`` lines kept only with that piece.
"""

from __future__ import annotations

import functools
import hashlib
import re
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from mmpx import __version__, atomic
from mmpx.atomic.stale import new_tmp_dir, release
from mmpx.errors import MmpxError

MARK = ".mmpx-scaffold.json"  # what the scaffold wrote, with hashes: --overwrite replaces only an unedited one
PIECES = ("backbone", "command", "converter", "transform", "dataset")
_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
# which template files each piece brings (paths relative to the package template, __PKG__ unexpanded)
_FILES = {
    "backbone": ("__PKG__/backbone.py", "__PKG__/configs/__NAME_ID___net_carpose.py", "tests/test_backbone.py"),
    "command": ("__PKG__/cli.py", "tests/test_command.py"),
    "converter": ("__PKG__/convert.py", "tests/test_converter.py"),
    "transform": ("__PKG__/transforms.py", "tests/test_transform.py"),
    "dataset": ("__PKG__/dataset.py", "tests/test_dataset.py"),
}
_COMMON = ("pyproject.toml", "README.md", "__PKG__/__init__.py", "__PKG__/plugin.py", "tests/conftest.py",
           "tests/test_plugin.py")
# labels to a deployed model: needs a converter to make the data and a config to train
_ROUND_TRIP = ("tests/test_round_trip.py", ("backbone", "converter"))


@dataclass(frozen=True)
class Names:
    """Every name derived from the plugin's name ``mything``."""

    name: str  # mything: the entry point and plugin name
    dist: str  # mmpx-plugin-mything
    package: str  # mmpx_mything
    ident: str  # mything (a Python identifier)
    prefix: str  # Mything: the start of its class names
    cls: str  # MythingNet: the backbone

    @classmethod
    def of(cls, name: str) -> Names:
        if not _NAME.match(name):
            raise MmpxError(f"plugin name {name!r}: lower-case letters, digits and single hyphens, starting "
                            "with a letter", "e.g. mmpx plugins new wings")
        ident = name.replace("-", "_")
        prefix = "".join(part.capitalize() for part in name.split("-"))
        return cls(name, f"mmpx-plugin-{name}", f"mmpx_{ident}", ident, prefix, prefix + "Net")

    def classes(self, pieces: tuple[str, ...]) -> list[tuple[str, str, str]]:
        """``(registry, class name, module)`` of every registry class the chosen pieces bring."""
        found = [("MODELS", self.cls, f"{self.package}.backbone")] if "backbone" in pieces else []
        found += [("TRANSFORMS", f"{self.prefix}Grayscale", f"{self.package}.transforms")] \
            if "transform" in pieces else []
        found += [("DATASETS", f"{self.prefix}Dataset", f"{self.package}.dataset")] if "dataset" in pieces else []
        return found


def _plugin_fill(n: Names, pieces: tuple[str, ...]) -> dict[str, str]:
    """The parts of ``plugin.py`` that depend on the pieces: what it imports and the registry classes."""
    classes = n.classes(pieces)
    imports = {"hookimpl", "DoctorCheck"}
    imports |= {"ModuleContribution"} if classes else set()
    imports |= {"ConfigFile"} if "backbone" in pieces else set()
    imports |= {"Command"} if {"command", "converter"} & set(pieces) else set()
    records = ",\n        ".join(f'ModuleContribution("{r}", "{c}", "{m}")' for r, c, m in classes)
    return {"__PLUGIN_IMPORTS__": ", ".join(sorted(imports)), "__MODULE_RECORDS__": records}


# ``#[piece]`` ... ``#[/piece]``: lines a template keeps only with that piece (``modules``: any registry class)
_BLOCK = re.compile(r"^#\[(\w+)\]\n(.*?)^#\[/\1\]\n", re.M | re.S)


def _blocks(text: str, on: set[str]) -> str:
    return _BLOCK.sub(lambda m: m.group(2) if m.group(1) in on else "", text)


def _hooks(pieces: tuple[str, ...]) -> list[str]:
    hooks = ["mmpx_doctor_checks"]
    hooks += ["mmpx_modules"] if {"backbone", "transform", "dataset"} & set(pieces) else []
    hooks += ["mmpx_configs"] if "backbone" in pieces else []
    hooks += ["mmpx_cli_commands"] if "command" in pieces else []
    hooks += ["mmpx_converters"] if "converter" in pieces else []
    return sorted(hooks)


_LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def _usage(n: Names, pieces: tuple[str, ...]) -> str:
    data = f"data/{n.ident}" if "converter" in pieces else "qs/data"
    lines = []
    if "converter" in pieces:
        lines.append(f"mmpx convert {n.name}-csv labels.csv {data}   # annotations/train.json, val.json, images/, "
                     "metainfo.py")
    elif "backbone" in pieces:
        lines.append("mmpx quickstart --work-dir qs                    # or any converted car set")
    if "backbone" in pieces:
        options = [f"{loader}.dataset.data_root={data}" for loader in _LOADERS]
        if "converter" in pieces and "dataset" not in pieces:  # the car dataset reads the converted metainfo
            options += [f"{loader}.dataset.metainfo.from_file={data}/metainfo.py" for loader in _LOADERS]
        if "converter" in pieces:
            options.append("model.head.out_channels=K   # K: your keypoint count")
        lines += [f"mmpx train {n.name}-net-carpose --cfg-options {' '.join(options)}",
                  f"mmpx train {n.name}-net-carpose --freeze backbone:1 ...  # stem + first stage frozen",
                  f"mmpx export onnx {n.name}-net-carpose work_dirs/{n.ident}_net_carpose/epoch_20.pth "
                  "--cfg-options ...   # the same options",
                  f"mmpx infer photos/ --backend onnxruntime --weights work_dirs/{n.ident}_net_carpose/epoch_20.onnx "
                  "--whole-image --out-dir out/"]
    if "command" in pieces:
        lines.append(f"mmpx {n.name}-info")
    return "```bash\n" + "\n".join(lines) + "\n```"


_WORDS = {"backbone": "a backbone with a config", "command": "a command", "converter": "a CSV converter",
          "transform": "a data transform", "dataset": "a dataset that reads its keypoints from its files"}


def _what(pieces: tuple[str, ...]) -> str:
    return ", ".join(_WORDS[p] for p in pieces)


def _config_fill(n: Names, pieces: tuple[str, ...]) -> dict[str, str]:
    """The parts of the shipped config (and of the round-trip test) that depend on the other pieces."""
    own = "dataset" in pieces
    if own:
        note = f"{n.prefix}Dataset reads the keypoint names from each annotation file (head.out_channels: their count)"
    else:
        note = "CarPoseDataset: the 8 car keypoints (metainfo=dict(from_file=...) for other data)"
    step = f"    dict(type='{n.prefix}Grayscale', prob=0.2),\n" if "transform" in pieces else ""
    return {"__IMPORTS__": "\n    ".join(f"'{module}'," for _, _, module in n.classes(pieces)),
            "__DATASET_NOTE__": note,
            "__DATASET__": f"{n.prefix}Dataset" if own else "CarPoseDataset",
            "    __TRANSFORM_STEP__\n": step,
            "__HAS_DATASET__": str(own)}


def _fill(text: str, n: Names, pieces: tuple[str, ...]) -> str:
    """A template's text (or path) for the plugin ``n`` with ``pieces``."""
    text = _blocks(text, {*pieces, *(["modules"] if n.classes(pieces) else [])})
    replace = {**_plugin_fill(n, pieces), **_config_fill(n, pieces), "__DIST__": n.dist, "__PKG__": n.package,
               "__NAME_ID__": n.ident, "__NAME__": n.name, "__CLASS__": n.cls, "__PREFIX__": n.prefix,
               "__MMPX_VERSION__": __version__, "__WHAT__": _what(pieces), "__USE__": _usage(n, pieces),
               "__HOOKS__": " ".join(_hooks(pieces))}
    for key, value in replace.items():  # __NAME_ID__ before __NAME__: the longer key first
        text = text.replace(key, value)
    return text


def new_plugin(name: str, out: Path, pieces: tuple[str, ...] = PIECES, overwrite: bool = False) -> list[Path]:
    """Write the plugin package ``name`` into ``out`` with the chosen ``pieces`` (:data:`PIECES`).

    Returns:
        The files written, relative to ``out``.

    Raises:
        MmpxError: a bad name or piece, or ``out`` exists and is not empty (without ``overwrite``).
    """
    n = Names.of(name)
    unknown = sorted(set(pieces) - set(PIECES))
    if unknown or not pieces:
        raise MmpxError(f"pieces {', '.join(unknown) or '(none)'}: choose from {', '.join(PIECES)}",
                        "e.g. --backbone --converter")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise MmpxError(f"{out} exists and is not empty", "choose another --dir, or add --overwrite")
        _check_replaceable(out)
    atomic.check_writable(out, "--dir", folder=True)
    pieces = tuple(p for p in PIECES if p in pieces)
    fill = functools.partial(_fill, n=n, pieces=pieces)
    template = resources.files("mmpx.plugins") / "templates" / "package"
    chosen = [*_COMMON, *(f for p in pieces for f in _FILES[p])]
    if set(_ROUND_TRIP[1]) <= set(pieces):
        chosen.append(_ROUND_TRIP[0])
    files = {fill(rel): fill((template / rel).read_text(encoding="utf-8")) for rel in chosen}
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = new_tmp_dir(out.parent, atomic.tmp_name(out.name))
    try:
        for rel, text in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            (staging / rel).write_text(text, encoding="utf-8")
        record = dict(name=name, files={rel: _sha(staging / rel) for rel in files})
        atomic.write_json(staging / MARK, record)
        atomic.replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        release(staging)
    return sorted(Path(rel) for rel in files)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _generated(rel: Path) -> bool:
    """Files that tools make in a package (caches, build metadata): not the author's work."""
    return any(part in ("__pycache__", ".pytest_cache", ".ruff_cache", "build", "dist") or part.endswith(".egg-info")
               for part in rel.parts)


def _check_replaceable(out: Path) -> None:
    """``--overwrite`` replaces only a scaffold that nobody edited since ``mmpx plugins new`` wrote it."""
    import json

    try:
        recorded = json.loads((out / MARK).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise MmpxError(f"--overwrite: {out} was not written by mmpx plugins new (no {MARK} in it), so it is not "
                        "replaced", "choose a new --dir, or move that folder away yourself") from None
    changed = []
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if path.is_dir() or rel.as_posix() == MARK or _generated(rel):
            continue
        if recorded.get(rel.as_posix()) != _sha(path):
            changed.append(rel.as_posix())
    changed += [rel for rel in recorded if not (out / rel).is_file()]
    if changed:
        shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
        raise MmpxError(f"--overwrite: {out} was changed since mmpx plugins new wrote it ({shown}); replacing it "
                        "would lose that work", "scaffold into a new --dir and copy what you need across")


def installed_clashes(name: str, pieces: tuple[str, ...], host) -> list[str]:
    """What the new plugin ``name`` would share with what is installed: its plugin, distribution or package name,
    or a command, converter, config or registry class name an installed plugin already contributes.

    Args:
        name: the new plugin's name.
        pieces: the pieces it gets (their names are compared).
        host: the installed plugins (:func:`mmpx.plugins.get_host`).
    """
    import importlib.metadata
    import importlib.util

    n = Names.of(name)
    found = []
    owner = {info.name: info for info in host.plugins() if not info.builtin}
    if name in owner:
        info = owner[name]
        found.append(f"a plugin named {name!r} is installed ({info.distribution or info.module} {info.version or ''}"
                     .rstrip() + ")")
    try:
        version = importlib.metadata.version(n.dist)
        found.append(f"the distribution {n.dist} is installed ({version})")
    except importlib.metadata.PackageNotFoundError:
        pass
    if importlib.util.find_spec(n.package) is not None:
        found.append(f"a package named {n.package} is importable")
    wanted = {("command", f"{name}-info")} if "command" in pieces else set()
    wanted |= {("converter", f"{name}-csv")} if "converter" in pieces else set()
    wanted |= {("config", f"{name}-net-carpose")} if "backbone" in pieces else set()
    wanted |= {(registry, cls) for registry, cls, _ in n.classes(pieces)}
    contributed = [("command", c) for c in host.cli_commands()] + [("converter", c) for c in host.converters()]
    contributed += [("config", c) for c in host.configs()] + [(c.item.registry, c) for c in host.modules()]
    for kind, contrib in contributed:
        if (kind, contrib.name) in wanted:
            found.append(f"{kind} {contrib.name!r} is taken by plugin {contrib.plugin}")
    return found
