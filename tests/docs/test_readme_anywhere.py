"""What README.md shows works from any folder, not only in the checkout.

Before: ``mmpx configs list`` did not list configs/carpose or configs/humanart, so ``mmpx train
rtmpose-t_carpose-256x256`` failed; the README's ``configs/...`` and ``mmpose_ext/datasets/metainfo/carpose.py``
paths worked only with the checkout as the current folder; ``--metainfo configs/_base_/datasets/300w.py`` and
``--metainfo mmpose::_base_/datasets/300w.py``, which configs accept, were "does not exist".

Every command in the README's bash blocks is listed in ``README_COMMANDS`` (a test keeps the two in sync) with the
test that runs it from a folder outside the checkout, or why it is not run here.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmpx.testing import run_cli
from tests.helpers import ROOT, make_tiny_coco

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

CHECKOUT = "in the checkout, by design: set-up and the checkout's own tooling"
SYNOPSIS = "a synopsis or example with placeholders for the user's own files, not a command to run"

# README command -> the test of this module that runs it from a folder outside the checkout, or why none does
README_COMMANDS = {
    "make quickstart": CHECKOUT + " (minutes; tests/mmpx/app/test_quickstart.py runs mmpx quickstart for 1 epoch)",
    "make test": CHECKOUT,
    ".venv/bin/mmpx doctor": CHECKOUT + " (the venv make setup just made)",
    "mmpx convert labelme my_labels/ data/carpose --metainfo mmpose_ext::datasets/metainfo/carpose.py "
    "--category car": "test_readme_flow_from_another_folder",
    "mmpx check data data/carpose/annotations/train.json --images data/carpose/images "
    "--metainfo data/carpose/metainfo.py": "test_readme_flow_from_another_folder",
    "mmpx train rtmpose-t_carpose-256x256": "test_readme_flow_from_another_folder",
    "mmpx train rtmdet-tiny_carpose-cpu": "tests/configs/test_detector_cpu.py trains it, by name, from another folder",
    "mmpx suggest unlabelled/ clip.mp4 --out batch2/ --n 50 --pose cfg.py --weights best.pth --det-config det.py "
    "--exclude my_labels/": SYNOPSIS,
    "labelme batch2/": "labelme's own GUI",
    "mmpx convert labelme batch2/ data/carpose --append": SYNOPSIS + " (tests/mmpx/convert/test_convert_append.py)",
    "mmpx metainfo sigmas A.json B.json --metainfo cars.py --write": SYNOPSIS,
    "mmpx train CONFIG [--work-dir DIR] [--resume auto|CKPT] [--load-from CKPT] [--freeze backbone:2 ...] [--amp] "
    "[--device cpu|cuda] [--nproc N] [--nnodes M --node-rank R --master-addr HOST --master-port P] "
    "[--seed N --deterministic] [--no-validate] [--auto-scale-lr] [--launcher pytorch|slurm] "
    "[--progress/--no-progress] [--cfg-options K=V ...]": SYNOPSIS,
    "mmpx test CONFIG CKPT [--out metrics.json] [--dump preds.pkl] [--show-dir DIR] [--device cpu|cuda] "
    "[--nproc N]": SYNOPSIS,
    "mmpx eval GT.json PRED.json --metainfo META.py [--by scenario] [--out metrics.json] [--markdown report.md]":
        SYNOPSIS,
    "mmpx compare published.json mine.json [--markdown diff.md] [--fail-below AP=-0.01]": SYNOPSIS,
    "mmpx report work_dirs/my_run [--out report.html] [--compare work_dirs/baseline]":
        SYNOPSIS + " (tests/mmpose_ext/engine/test_report_run.py runs mmpx report on a trained run)",
    "mmpx publish work_dirs/run/best_coco_AP_epoch_30.pth release/rtmpose-t_carpose.pth": SYNOPSIS,
    "mmpx browse rtmpose-t_carpose-256x256 --phase train --mode transformed --max 16":
        "test_readme_flow_from_another_folder",
    "mmpx infer photos/ clip.mp4 --pose CONFIG --weights CKPT (--det-config DET --det-weights DCKPT | --whole-image) "
    "--out-dir out/ --save-json out/results.json": SYNOPSIS,
    "mmpx export onnx CONFIG CKPT": SYNOPSIS,
    "mmpx export int8 CKPT.onnx --calib-ann train.json --calib-images images/": SYNOPSIS,
    "mmpx infer photos/ --backend onnxruntime --weights CKPT.onnx --whole-image --out-dir out/": SYNOPSIS,
    "mmpx infer clip.mp4 ... --track --smooth --det-every 5 --save-csv tracks.csv": SYNOPSIS,
    "mmpx plot trajectories tracks.csv --out paths.png": SYNOPSIS,
    "mmpx plot work_dirs/run --keys 'loss*' --keys 'coco/AP'": SYNOPSIS,
    "mmpx plugins list [--json] [--check]": SYNOPSIS,
    "mmpx plugins new wings": "test_shipped_configs_and_plugins_new_from_another_folder",
    "mmpx configs list": "test_shipped_configs_and_plugins_new_from_another_folder",
    "mmpx configs path rtmpose-t_carpose-256x256": "test_shipped_configs_and_plugins_new_from_another_folder",
    "mmpx train transformers-convnext-rtmcc-carpose --cfg-options ...": SYNOPSIS + " (the plugin's tests train it)",
}
# the checkout's own folders: a path into one of them works only with the checkout as the current folder
CHECKOUT_FOLDERS = ("configs", "mmpose_ext", "mmpx", "plugins", "scripts", "tests", "benchmarks", "docs")


def readme_commands() -> list[str]:
    """The commands of README.md's bash blocks: comments dropped, continuation lines joined, spaces collapsed."""
    commands, in_bash = [], False
    for line in (ROOT / "README.md").read_text().splitlines():
        if line.startswith("```"):
            in_bash = not in_bash and line.strip() == "```bash"
            continue
        if not in_bash:
            continue
        text = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if not text.strip():
            continue
        if commands and (line[:1].isspace() or commands[-1].endswith("\\")):  # continues the command above
            commands[-1] = commands[-1].removesuffix("\\") + " " + text
        else:
            commands.append(text)
    return [" ".join(c.split()) for c in commands]


def readme_args(command: str, *extra: str) -> list[str]:
    """The arguments after ``mmpx`` of a README command that this module runs, plus ``extra`` options."""
    assert README_COMMANDS.get(command, "").startswith("test_"), f"{command!r} is not a README command run here"
    words = shlex.split(command)
    assert words[0] == "mmpx"
    return [*words[1:], *extra]


def outside(tmp_path: Path) -> Path:
    """A working folder outside the checkout (pytest's tmp folders are)."""
    assert not tmp_path.resolve().is_relative_to(ROOT)
    return tmp_path


def test_every_readme_command_is_listed_here():
    found = readme_commands()
    assert len(found) > 20
    assert sorted(set(found) - set(README_COMMANDS)) == [], "README commands missing from README_COMMANDS"
    assert sorted(set(README_COMMANDS) - set(found)) == [], "README_COMMANDS lists commands the README lacks"
    module = sys.modules[__name__]
    for command, how in README_COMMANDS.items():
        if how.startswith("test_"):
            assert callable(getattr(module, how, None)), f"{command!r}: no test named {how}"


def test_readme_commands_name_no_file_of_the_checkout():
    for command in readme_commands():
        if README_COMMANDS.get(command, "").startswith(CHECKOUT):
            continue
        for word in shlex.split(command):
            in_checkout = "/" in word and "::" not in word and word.split("/")[0] in CHECKOUT_FOLDERS
            assert not in_checkout, (
                f"README: {command!r} names {word}, which exists only in the checkout; use a shipped name "
                "(mmpx configs list) or PACKAGE::path")


def shipped_config_files() -> dict[str, Path]:
    """configs/<folder>/<file>.py of the checkout by the name mmpx gives them (the stem; the folder first when
    the stem does not say it)."""
    files = sorted((ROOT / "configs").glob("*/*.py"))
    assert len(files) >= 10
    return {(p.stem if p.parent.name in p.stem else f"{p.parent.name}-{p.stem}"): p for p in files}


def test_shipped_configs_and_plugins_new_from_another_folder(tmp_path):
    cwd = outside(tmp_path)
    listed = run_cli(*readme_args("mmpx configs list"), "--json", cwd=cwd)
    assert listed.exit_code == 0, listed.stderr
    rows = {row["name"]: row for row in listed.json()}
    for name, file in shipped_config_files().items():
        assert name in rows, f"mmpx configs list lacks {name} ({file.relative_to(ROOT)})"
        assert Path(rows[name]["path"]).read_bytes() == file.read_bytes()
        assert rows[name]["plugin"] == "mmpx.cli.builtin" and rows[name]["summary"]
    assert rows["rtmdet-tiny_carpose-cpu"]["summary"].startswith("RTMDet-tiny car detector for a CPU")

    printed = run_cli(*readme_args("mmpx configs path rtmpose-t_carpose-256x256"), cwd=cwd)
    assert printed.exit_code == 0, printed.stderr
    assert Path(printed.stdout.strip()).read_bytes() == (ROOT / "configs/carpose/rtmpose-t_carpose-256x256.py"
                                                        ).read_bytes()

    made = run_cli(*readme_args("mmpx plugins new wings"), cwd=cwd)
    assert made.exit_code == 0, made.stderr
    assert (cwd / "mmpx-plugin-wings" / "pyproject.toml").is_file()


def test_the_wheel_ships_the_configs(tmp_path):
    """A wheel (what a non-editable install gets) holds every shipped config and metainfo file."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("mmpx", "mmpose_ext", "configs"):
        shutil.copytree(ROOT / name, source / name, symlinks=True, ignore=ignore)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(tmp_path / "dist"), str(source)], capture_output=True, text=True,
                           timeout=300)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    import zipfile

    (wheel,) = (tmp_path / "dist").glob("mmpose_ext-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for file in (ROOT / "configs").glob("*/*.py"):
        assert f"mmpose_ext/configs/{file.parent.name}/{file.name}" in names, file
    assert {"mmpose_ext/configs/carpose_quickstart.py", "mmpose_ext/datasets/metainfo/carpose.py"} <= names
    assert not any(n.startswith("configs/") for n in names)  # nothing at the top of site-packages


@pytest.fixture(scope="module")
def user_folder(tmp_path_factory) -> Path:
    """A user's folder outside the checkout with labelme files (``my_labels/``), converted as the README says."""
    cwd = outside(tmp_path_factory.mktemp("user"))
    drawn = run_cli("data", "synth", "carpose", "my_labels", "--n", "8", "--size", "128", cwd=cwd)
    assert drawn.exit_code == 0, drawn.stderr
    command = ("mmpx convert labelme my_labels/ data/carpose --metainfo mmpose_ext::datasets/metainfo/carpose.py "
               "--category car")
    converted = run_cli(*readme_args(command), cwd=cwd)
    assert converted.exit_code == 0, converted.stderr
    assert (cwd / "data/carpose/annotations/train.json").is_file()
    return cwd


@pytest.mark.stack
@pytest.mark.slow
def test_readme_flow_from_another_folder(user_folder):
    cwd = user_folder
    checked = run_cli(*readme_args("mmpx check data data/carpose/annotations/train.json --images data/carpose/images "
                                   "--metainfo data/carpose/metainfo.py"), cwd=cwd)
    assert checked.exit_code == 0, checked.stdout + checked.stderr

    two_iterations = ["--work-dir", "run", "--no-validate", "--no-progress", "--cfg-options",
                      "train_dataloader.dataset.indices=4", "train_dataloader.batch_size=2",
                      "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
                      "train_cfg.max_epochs=1"]
    trained = run_cli(*readme_args("mmpx train rtmpose-t_carpose-256x256", *two_iterations), cwd=cwd,
                      env={"OMP_NUM_THREADS": "1"})
    assert trained.exit_code == 0, trained.stderr[-3000:]
    assert (cwd / "run" / "epoch_1.pth").is_file()

    browsed = run_cli(*readme_args("mmpx browse rtmpose-t_carpose-256x256 --phase train --mode transformed --max 16"),
                      cwd=cwd)
    assert browsed.exit_code == 0, browsed.stderr[-3000:]
    assert Path(cwd, browsed.stdout.strip().splitlines()[-1]).is_file()  # the contact sheet


def test_metainfo_options_read_names_as_configs_do(user_folder, tmp_path):
    """Every --metainfo option takes what a config's ``metainfo=dict(from_file=...)`` takes: mmpose::NAME,
    MMPose's configs/_base_/datasets/NAME.py, and mmpose_ext::PATH for mmpose-ext's own files."""
    cwd = user_folder
    coco = make_tiny_coco(tmp_path / "coco")
    ann = str(coco.relative_to(cwd) if coco.is_relative_to(cwd) else coco)
    for form in ("configs/_base_/datasets/coco.py", "mmpose::_base_/datasets/coco.py"):
        checked = run_cli("check", "data", ann, "--metainfo", form, "--json", cwd=cwd)
        assert "does not exist" not in checked.stderr, checked.stderr
        codes = {p["code"] for p in checked.json()["problems"]}
        assert "metainfo-load" not in codes, checked.stdout[-2000:]
    wrong = run_cli("check", "data", ann, "--metainfo", "configs/_base_/datasets/300w.py", "--json", cwd=cwd)
    assert "68" in wrong.stdout  # 300W's 68 keypoints against the file's 17: read, not "does not exist"

    carpose = "mmpose_ext::datasets/metainfo/carpose.py"
    runs = {
        "check data": ["check", "data", "data/carpose/annotations/val.json", "--metainfo", carpose],
        "convert labelme": ["convert", "labelme", "my_labels", "again", "--metainfo", carpose, "--category", "car"],
        "convert to-yolo": ["convert", "to-yolo", "data/carpose/annotations/val.json", "yolo", "--images",
                            "data/carpose/images", "--metainfo", carpose],
        "eval": ["eval", "data/carpose/annotations/val.json", "preds.json", "--metainfo", carpose, "--metrics", "pck"],
        "metainfo sigmas": ["metainfo", "sigmas", "data/carpose/annotations/val.json", "again.json", "--metainfo",
                            carpose, "--min-pairs", "1"],
    }
    val = json.loads((cwd / "data/carpose/annotations/val.json").read_text())
    again = [dict(a, keypoints=[v + (i % 3 != 2) * (i % 5 - 2) for i, v in enumerate(a["keypoints"])])
             for a in val["annotations"]]  # the same images labelled again, a pixel or two off
    (cwd / "again.json").write_text(json.dumps(dict(val, annotations=again)))
    (cwd / "preds.json").write_text(json.dumps([dict(image_id=a["image_id"], category_id=a["category_id"],
                                                     keypoints=a["keypoints"], score=1.0)
                                                for a in val["annotations"]]))
    for what, args in runs.items():
        done = run_cli(*args, cwd=cwd)
        assert done.exit_code == 0, f"{what}: {done.stdout[-1500:]}{done.stderr[-1500:]}"

    missing = run_cli("check", "data", "data/carpose/annotations/val.json", "--metainfo",
                      "mmpose::_base_/datasets/no_such.py", cwd=cwd)
    assert missing.exit_code == 1 and "error: metainfo file mmpose::_base_/datasets/no_such.py does not exist" \
        in missing.stderr and "hint: " in missing.stderr


def test_every_metainfo_option_uses_the_one_resolver():
    import inspect
    import typing

    import typer.models

    from mmpx.cli._options import metainfo_file, metainfo_files
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import get_host
    from tests.mmpx.cli.test_output_guard import _commands

    found = []
    for name, fn in _commands(build_app(get_host())):
        hints = typing.get_type_hints(fn, include_extras=True)
        for param in inspect.signature(fn).parameters:
            for meta in getattr(hints.get(param), "__metadata__", ()):
                decls = [meta.default] if isinstance(meta.default, str) else []
                decls += list(getattr(meta, "param_decls", None) or [])
                if isinstance(meta, typer.models.OptionInfo) and (
                        "--metainfo" in decls or (param == "metainfo" and not decls)):
                    found.append(name)
                    assert meta.callback in (metainfo_file, metainfo_files), f"mmpx {name} --metainfo"
    assert {"check data", "convert labelme", "convert to-yolo", "eval", "metainfo sigmas"} <= set(found)
