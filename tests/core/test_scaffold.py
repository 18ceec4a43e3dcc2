"""``mmpx plugins new`` without the training stack: names, pieces, refusals, and files that compile."""

from __future__ import annotations

import importlib
import py_compile
import sys

import pytest

from mmpx.errors import MmpxError
from mmpx.plugins.scaffold import new_plugin
from mmpx.testing import host_for, run_cli


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
