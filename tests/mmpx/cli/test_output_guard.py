"""The output guard: every output of every command pointed at each of its inputs is refused before any work,
and the inputs stay byte-identical.

Before: ``mmpx infer imgs ... --out-dir imgs`` replaced every original image with its drawing, ``--save-json``
naming an input image replaced the JPEG with JSON, ``mmpx export onnx --out ann/val.onnx`` replaced the COCO file
``ann/val.json`` with the sidecar; all exit 0.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import pytest
import typer

from mmpx.atomic.guard import check_apart, relation
from mmpx.cli._guard import label
from mmpx.cli.main import build_app, main
from mmpx.errors import MmpxError
from mmpx.plugins.manager import get_host

# parameters that name what a command writes; each must be declared as an output
OUTPUT_NAMES = {"out", "out_dir", "save_json", "save_labelme", "save_csv", "save_parquet", "dump", "show_dir",
                "work_dir", "markdown", "json_out", "folder"}
# commands with path parameters that only read
READ_ONLY = {"check data", "metainfo check", "metainfo map"}
# values for parameters that are not paths but must be given
EXTRA = {"plugins new": {"name": "wings"}, "configs dump": {"name": "rtmpose-t_carpose-256x256"}}


def _commands(app: typer.Typer, prefix: str = "") -> list[tuple[str, object]]:
    found = []
    for info in app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        found.append((f"{prefix}{name}", info.callback))
    for group in app.registered_groups:
        found += _commands(group.typer_instance, f"{prefix}{group.name} ")
    return found


def builtin_commands() -> list[tuple[str, object]]:
    host = get_host()
    app = build_app(host)
    builtin = {c.item.name for c in host.cli_commands() if host.is_builtin(c.plugin)} | {"convert"}
    converters = {f"convert {c.item.name}" for c in host.converters() if host.is_builtin(c.plugin)}
    return [(name, fn) for name, fn in _commands(app) if name.split()[0] in builtin
            and (not name.startswith("convert ") or name in converters)]


def _is_path(fn, param: str) -> bool:
    import typing

    return "Path" in str(typing.get_type_hints(fn, include_extras=True).get(param))


def test_every_output_parameter_is_declared():
    checked = 0
    for name, fn in builtin_commands():
        params = inspect.signature(fn).parameters
        outputs = [p for p in params if p in OUTPUT_NAMES and _is_path(fn, p)]
        io = getattr(fn, "__mmpx_io__", None)
        if not outputs:
            paths = [p for p in params if _is_path(fn, p)]
            assert not paths or name in READ_ONLY or io is not None, f"{name}: path parameters {paths} undeclared"
            continue
        assert io is not None, f"mmpx {name} writes {outputs} but declares no inputs/outputs (@guarded)"
        assert set(outputs) <= set(io.outputs), f"mmpx {name}: {set(outputs) - set(io.outputs)} not declared"
        checked += 1
    assert checked >= 20  # every writing command of mmpx was seen


def _argv(name: str, fn, values: dict[str, Path]) -> list[str]:
    """The command line with ``values`` for the path parameters (and EXTRA's), positionals in order."""
    params = inspect.signature(fn).parameters
    given = {**{k: str(v) for k, v in values.items()}, **EXTRA.get(name, {})}
    positional, options = [], []
    for param in params:
        if param not in given:
            continue
        shown = label(fn, param)
        if shown.startswith("--"):
            options += [shown, given[param]]
        else:
            positional.append(given[param])
    return [*name.split(), *positional, *options]


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for name, fn in builtin_commands():
        io = getattr(fn, "__mmpx_io__", None)
        if io is None:
            continue
        cases += [(name, out, inp) for out in io.outputs for inp in io.inputs]
    return cases


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name, out, inp", _cases(), ids=lambda v: str(v).replace(" ", "-"))
def test_each_output_pointed_at_each_input_is_refused(tmp_path, capsys, name, out, inp):
    fn = dict(builtin_commands())[name]
    io = fn.__mmpx_io__
    values = {}
    for param in io.inputs:
        path = tmp_path / "in" / f"{param}.dat"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(f"the user's only copy of {param}\n".encode())
        values[param] = path
    for param in io.outputs:
        values[param] = tmp_path / "out" / f"{param}.new"
    values[out] = values[inp]
    before = _snapshot(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        main(_argv(name, fn, values))
    err = capsys.readouterr().err
    assert exit_.value.code == 1, err
    assert f"{label(fn, out)} {values[inp]} is the input {label(fn, inp)}" in " ".join(err.split()), err
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before  # nothing replaced, nothing added


def test_relations_by_path_link_and_inode(tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"jpeg")
    assert relation(photos, photos) == "is"
    assert relation(photos / "vis", photos) == "lies inside"
    assert relation(tmp_path, photos / "a.jpg") == "contains"
    assert relation(tmp_path / "elsewhere", photos) is None
    alias = tmp_path / "alias"
    alias.symlink_to(photos)
    assert relation(alias / "out", photos) == "lies inside"  # through a symlinked folder
    os.link(photos / "a.jpg", tmp_path / "hard.jpg")
    assert relation(tmp_path / "hard.jpg", photos / "a.jpg") == "is"  # the same inode under another name
    assert relation(tmp_path / "phot", photos) is None  # a shared prefix of names is not containment


def test_run_folders_may_hold_their_inputs_and_folders_may_receive_outputs(tmp_path):
    work = tmp_path / "work"
    (work / "epoch_1.pth").parent.mkdir()
    (work / "epoch_1.pth").write_bytes(b"ckpt")
    check_apart({"--work-dir": work}, {"CHECKPOINT": work / "epoch_1.pth"}, may_contain=["--work-dir"])
    with pytest.raises(MmpxError, match="--out .* contains the input CHECKPOINT"):
        check_apart({"--out": work}, {"CHECKPOINT": work / "epoch_1.pth"}, may_contain=["--work-dir"])
    check_apart({"--out": work / "loss.png"}, {"RUN": work}, writes_inside=["RUN"])
    with pytest.raises(MmpxError, match="is the input RUN"):
        check_apart({"--out": work}, {"RUN": work}, writes_inside=["RUN"])


def test_infer_into_the_folder_of_its_images_is_refused(tmp_path):
    from tests.helpers import mmpx

    imgs = tmp_path / "imgs"
    imgs.mkdir()
    for i in range(4):
        (imgs / f"{i}.jpg").write_bytes(b"\xff\xd8 original %d" % i)
    before = _snapshot(tmp_path)
    for extra in (["--out-dir", str(imgs)], ["--out-dir", str(tmp_path)], ["--save-json", str(imgs / "0.jpg")],
                  ["--save-labelme", str(imgs / "pre")]):
        done = mmpx("infer", str(imgs), "--weights", str(tmp_path / "m.onnx"), "--whole-image", *extra)
        assert done.returncode == 1 and "the input INPUTS" in done.stderr, done.stderr
        assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("command", ["onnx", "int8"])
def test_export_never_replaces_a_json_it_did_not_write(tmp_path, command):
    """``--out ann/val.onnx`` would have written its sidecar copy over the COCO file ``ann/val.json``."""
    from tests.helpers import mmpx

    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "val.json").write_text('{"images": [], "annotations": [], "categories": []}')
    (tmp_path / "cfg.py").write_text("model = dict()\n")
    (tmp_path / "epoch_1.pth").write_bytes(b"weights")
    (tmp_path / "imgs").mkdir()
    before = _snapshot(tmp_path)
    inputs = ([str(tmp_path / "cfg.py"), str(tmp_path / "epoch_1.pth")] if command == "onnx" else
              [str(tmp_path / "m.onnx"), "--calib-ann", str(tmp_path / "epoch_1.pth"),
               "--calib-images", str(tmp_path / "imgs")])
    done = mmpx("export", command, *inputs, "--out", str(ann / "val.onnx"), cwd=tmp_path.parent)
    assert done.returncode == 1 and "which is not a sidecar mmpx wrote" in done.stderr, done.stderr
    assert _snapshot(tmp_path) == before
