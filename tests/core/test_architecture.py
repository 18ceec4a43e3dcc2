"""The three floors (docs/architecture.md): the import contract holds, every module of mmpx is on one floor,
and a torch import slipped into the core breaks the contract."""

from __future__ import annotations

import pkgutil
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import mmpx
from tests.helpers import ROOT

COMMANDS = {"cli", "app", "api", "__main__"}


def _lint_imports(cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    if not exe.exists():
        pytest.fail(f"{exe} missing: import-linter is in the test extra (pip install -e '.[test]')")
    return subprocess.run([str(exe), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_every_module_of_mmpx_is_on_exactly_one_floor():
    layers, forbidden = _contracts()
    commands, library, core = ([m.strip() for m in layer.split(":")] for layer in layers["layers"])
    assert library == ["mmpose_ext"] and set(commands) == {f"mmpx.{m}" for m in COMMANDS}
    assert sorted(core) == sorted(forbidden["source_modules"]), "both contracts must name the same core"
    assert set(forbidden["forbidden_modules"]) == {"torch", "mmengine", "mmcv", "mmpose", "mmdet"}
    present = {f"mmpx.{m.name}" for m in pkgutil.iter_modules(mmpx.__path__)}
    assert present == set(commands) | set(core), "a new module of mmpx must be put on a floor in pyproject.toml"


def test_a_torch_import_in_the_core_breaks_the_contract(tmp_path):
    for name in ("mmpx", "mmpose_ext"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    errors = tmp_path / "mmpx" / "errors.py"
    errors.write_text(errors.read_text() + "\nimport torch  # noqa\n")
    import os

    result = _lint_imports(tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0, result.stdout
    assert "The core never imports the training stack BROKEN" in result.stdout
    assert "mmpx.errors is not allowed to import torch" in result.stdout
