"""Environment switches mean what they say: ``=0`` is off, a typo in a plugin name is
reported, ``--debug`` works after the command too, and warnings never spoil ``--json`` output."""

from __future__ import annotations

import json
import sys

import pytest

from mmpx.plugins.manager import env_flag, load_plugins
from tests.helpers import run
from tests.mmpx.plugins.test_plugins import GOOD, _Distribution, _EntryPoint


@pytest.mark.parametrize("value, on", [(None, False), ("", False), ("0", False), ("false", False), ("No", False),
                                       ("off", False), ("1", True), ("yes", True), ("true", True)])
def test_env_flag(value, on):
    assert env_flag(value) is on


def test_zero_does_not_switch_autoload_off_and_typos_are_reported():
    dist = [_Distribution("g", _EntryPoint("good", GOOD))]
    host = load_plugins(distributions=dist, env={"MMPX_DISABLE_PLUGIN_AUTOLOAD": "0", "MMPX_TRACE_PLUGINS": "0"})
    assert {p.name: p.status for p in host.plugins()}["good"] == "loaded" and host.warnings == []
    host = load_plugins(distributions=dist, env={"MMPX_PLUGINS": "goood", "MMPX_BLOCK_PLUGINS": "nope"})
    assert {p.name: p.status for p in host.plugins()}["good"] == "not-allowed"
    assert any("MMPX_PLUGINS names 'goood', which is not an installed plugin (installed: good)" in w
               for w in host.warnings)
    assert any("MMPX_BLOCK_PLUGINS names 'nope'" in w for w in host.warnings)


def test_warning_goes_to_stderr_and_json_stays_clean():
    result = run([sys.executable, "-m", "mmpx", "plugins", "list", "--json"], env={"MMPX_PLUGINS": "nonexistent"})
    assert result.returncode == 0, result.stderr
    assert "warning: MMPX_PLUGINS names 'nonexistent'" in result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_debug_after_the_command():
    result = run([sys.executable, "-m", "mmpx", "eval", "/no/such.json", "/no/pred.json", "--debug"])
    assert result.returncode != 0 and "Traceback" in result.stderr  # --debug took effect, not a usage error
    assert "No such option" not in result.stderr
