"""A scaffolded plugin installs and passes its own tests, as `mmpx plugins new` promises."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from mmpx.testing import run_cli


@pytest.mark.slow
def test_a_new_plugin_installs_and_passes_its_own_tests(tmp_path):
    made = run_cli("plugins", "new", "wings", "--dir", tmp_path / "mmpx-plugin-wings")
    assert made.exit_code == 0, made.stderr
    if shutil.which("ruff", path=os.path.dirname(sys.executable)):
        lint = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ruff"), "check", "."],
                              cwd=tmp_path / "mmpx-plugin-wings", capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout[-3000:]
    # installed as a user installs it (a wheel, not the source folder), into a path of its own
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                          "--disable-pip-version-check", "--target", str(site), str(tmp_path / "mmpx-plugin-wings")],
                         capture_output=True, text=True, timeout=600)
    assert pip.returncode == 0, pip.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(site)}
    listed = run_cli("plugins", "list", "--json", env={"PYTHONPATH": str(site)})
    assert {r["name"]: r["status"] for r in listed.json()}["wings"] == "loaded"
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path /
                            "mmpx-plugin-wings")], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert tests.returncode == 0, tests.stdout[-4000:]
    assert " passed" in tests.stdout and "skipped" not in tests.stdout, tests.stdout[-1000:]
