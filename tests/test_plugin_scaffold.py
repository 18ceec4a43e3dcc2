"""A plugin made by `mmpx plugins new` with every piece installs and passes its own tests, which take it from CSV
labels through `mmpx train` to an exported model run by ONNX Runtime (issue 28).

Its backbone is a plain ``nn.Module`` with no ``init_cfg`` and its dataset reads the keypoint names from the files
it loads (as a DeepLabCut or SLEAP project does). It is installed once per module, as a user installs it (a wheel,
into a folder of its own); ``tests/test_plugin_deploy.py`` takes the same plugin through MMPose's own
tools/train.py, export, ``mmpx infer``, ``mmpx test`` and the Python API (a file of its own: the suite's workers
run the two at once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mmpx.testing import run_cli

pytestmark = pytest.mark.slow
CONFIG = "wings-net-carpose"
NAMES = ["nose", "left_wing", "right_wing"]
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


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
    """docs/plugins.md, "Developing a plugin against an existing mmpx environment", step by step."""
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
