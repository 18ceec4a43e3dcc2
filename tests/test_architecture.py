"""The floors and the layers inside the core and the library (docs/architecture.md): the import contracts hold,
every module of mmpx is on one row, and an import planted against a row (torch in the core, a lower core package
importing a higher one, a model primitive importing a hook) breaks them."""

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


def _rows() -> list[list[str]]:
    contract = _contracts()[0]
    return [[m.strip() for m in row.split(":")] for row in contract["layers"]]


def test_every_module_of_mmpx_is_on_exactly_one_floor():
    commands, library, stack, *core = _rows()
    assert library == ["mmpose_ext"] and set(commands) == {f"mmpx.{m}" for m in COMMANDS}
    assert set(stack) == {"torch", "mmengine", "mmcv", "mmpose", "mmdet"}
    core_names = [m for row in core for m in row]
    assert len(core_names) == len(set(core_names)), "a core package is on two rows"
    present = {f"mmpx.{m.name}" for m in pkgutil.iter_modules(mmpx.__path__)}
    assert present == set(commands) | set(core_names), "a new module of mmpx must be put on a row in pyproject.toml"


def test_every_core_package_says_what_it_is():
    for name in (m for row in _rows()[3:] for m in row):
        path = ROOT / name.replace(".", "/")
        init = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        text = init.read_text()
        assert text.startswith('"""') and len(text.split('"""')[1].split()) >= 8, f"{init}: no docstring"


# (file, line planted at its end, what lint-imports must say): the stack below the library, and the core's rows
PLANTED = [
    ("mmpx/errors/__init__.py", "import torch", "mmpx.errors is not allowed to import torch"),
    ("mmpx/report/charts.py", "import mmengine", "mmpx.report is not allowed to import mmengine"),
    ("mmpx/metainfo/names.py", "import mmpx.check.coco", "mmpx.metainfo is not allowed to import mmpx.check"),
    ("mmpx/runtime/ort.py", "import mmpx.infer.inputs", "mmpx.runtime is not allowed to import mmpx.infer"),
    ("mmpx/evaluation/groups.py", "import mmpx.suggest", "mmpx.evaluation is not allowed to import mmpx.suggest"),
    ("mmpx/atomic/guard.py", "import mmpx.metainfo", "mmpx.atomic is not allowed to import mmpx.metainfo"),
    ("mmpose_ext/models/backbone.py", "import mmpose_ext.engine.hooks",
     "mmpose_ext.models is not allowed to import mmpose_ext.engine"),
    ("mmpose_ext/engine/progress.py", "import mmpose_ext.apis.run",
     "mmpose_ext.engine is not allowed to import mmpose_ext.apis"),
]


@pytest.mark.parametrize(("file", "line", "says"), PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_import_breaks_the_contract(tmp_path, file, line, says):
    for name in ("mmpx", "mmpose_ext"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    target = tmp_path / file
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    import os

    result = _lint_imports(tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0, result.stdout
    assert "BROKEN" in result.stdout
    assert says in result.stdout
