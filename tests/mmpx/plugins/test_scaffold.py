"""``mmpx plugins new``: names, pieces, refusals and files that compile (no training stack needed); a plugin with
every piece that installs and passes its own tests, which take it from CSV labels through `mmpx train` to an
exported model run by ONNX Runtime (``stack``); and a venv of its own that develops a plugin against this one.

The full plugin's backbone is a plain ``nn.Module`` with no ``init_cfg`` and its dataset reads the keypoint names
from the files it loads (as a DeepLabCut or SLEAP project does). It is installed once per module, as a user
installs it (a wheel, into a folder of its own); ``test_plugin_deploy.py`` beside it takes the same plugin through
MMPose's own tools/train.py, export, ``mmpx infer``, ``mmpx test`` and the Python API (a file of its own: the
suite's workers run the two at once).
"""

from __future__ import annotations

import importlib
import json
import os
import py_compile
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmpx.errors import MmpxError
from mmpx.plugins.scaffold import new_plugin
from mmpx.testing import host_for, run_cli

CONFIG = "wings-net-carpose"
NAMES = ["nose", "left_wing", "right_wing"]
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


@pytest.mark.parametrize("name", ["Wings", "9lives", "two--hyphens", "with space", "-x", "a_b"])
def test_a_bad_name_is_refused_before_anything_is_written(tmp_path, name):
    with pytest.raises(MmpxError, match="lower-case letters, digits and single hyphens"):
        new_plugin(name, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_with_files_is_kept_unless_overwrite(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    result = run_cli("plugins", "new", "wings", "--dir", tmp_path / "out")
    assert result.exit_code == 1 and "exists and is not empty" in result.stderr and "--overwrite" in result.stderr
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep me"


def test_only_the_chosen_pieces_are_written_and_every_file_compiles(tmp_path, monkeypatch):
    result = run_cli("plugins", "new", "tiny-cmd", "--command", "--dir", tmp_path / "pkg")
    assert result.exit_code == 0, result.stderr
    files = sorted(str(p.relative_to(tmp_path / "pkg")) for p in (tmp_path / "pkg").rglob("*") if p.is_file())
    assert "mmpx_tiny_cmd/cli.py" in files and "tests/test_command.py" in files
    assert not any("backbone" in f or "convert" in f or "configs" in f for f in files), files
    for path in (tmp_path / "pkg").rglob("*.py"):
        py_compile.compile(str(path), doraise=True)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    plugin = importlib.import_module("mmpx_tiny_cmd.plugin")
    try:
        host = host_for(plugin, names=["tiny-cmd"])
        info = {p.name: p for p in host.plugins()}["tiny-cmd"]
        assert (info.status, info.api) == ("loaded", 1)
        assert info.hooks == ["mmpx_cli_commands", "mmpx_doctor_checks"]
        assert [c.name for c in host.cli_commands() if c.plugin == "tiny-cmd"] == ["tiny-cmd-info"]
        assert [(r.name, r.ok) for r in host.run_doctor_checks()] == [("tiny-cmd: tiny-cmd", True)]
    finally:
        for name in [m for m in sys.modules if m.startswith("mmpx_tiny_cmd")]:
            del sys.modules[name]


@pytest.fixture(scope="module")
def wings(tmp_path_factory):
    """The plugin ``wings``, installed for this module: (root, env)."""
    return make_wings(tmp_path_factory.mktemp("wings"))


def make_wings(root: Path) -> tuple[Path, dict[str, str]]:
    """``mmpx plugins new wings`` (every piece) in ``root``, linted, installed into ``root/site``; returns
    ``(root, env)``, ``env`` the ``PYTHONPATH`` under which it is installed."""
    made = run_cli("plugins", "new", "wings", "--dir", root / "mmpx-plugin-wings")
    assert made.exit_code == 0, made.stderr
    if shutil.which("ruff", path=os.path.dirname(sys.executable)):
        lint = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ruff"), "check", "."],
                              cwd=root / "mmpx-plugin-wings", capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout[-3000:]
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--disable-pip-version-check", "--target", str(root / "site"),
                          str(root / "mmpx-plugin-wings")], capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    return root, {"PYTHONPATH": str(root / "site")}


@pytest.mark.slow
@pytest.mark.stack
def test_a_new_plugin_installs_and_passes_its_own_tests(wings):
    root, env = wings
    listed = run_cli("plugins", "list", "--json", env=env)
    row = {r["name"]: r for r in listed.json()}["wings"]
    assert row["status"] == "loaded", row["errors"]
    assert {"MODELS:WingsNet", "TRANSFORMS:WingsGrayscale", "DATASETS:WingsDataset"} <= set(row["contributes"])
    # its own tests include the round trip convert -> check -> mmpx train -> export -> infer (ONNX Runtime)
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(root / "mmpx-plugin-wings")], cwd=root, env={**os.environ, **env},
                           capture_output=True, text=True, timeout=1200)
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert " passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout[-1000:]


def test_a_venv_of_its_own_develops_a_plugin_against_this_environment(tmp_path):
    """docs/guides/plugins.md, "Developing a plugin against an existing mmpx environment", step by step."""
    import sysconfig

    assert run_cli("plugins", "new", "devwings", "--command", "--dir", tmp_path / "plugin").exit_code == 0
    dev = tmp_path / "dev"
    subprocess.run([sys._base_executable, "-m", "venv", "--without-pip", str(dev)], check=True, timeout=120)
    python = dev / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    line = f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    (Path(purelib) / "mmpx-env.pth").write_text(line)
    pip = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--disable-pip-version-check", "-e", str(tmp_path / "plugin")], capture_output=True,
                         text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    listed = subprocess.run([str(python), "-m", "mmpx", "plugins", "list", "--json"], capture_output=True,
                            text=True, env=env, timeout=300)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert {r["name"]: r["status"] for r in json.loads(listed.stdout)}["devwings"] == "loaded"
    here = run_cli("plugins", "list", "--json")  # the environment itself does not see it
    assert "devwings" not in {r["name"] for r in here.json()}
