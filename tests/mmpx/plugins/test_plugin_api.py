"""Plugin API v1: the hook docs run, API versions, shipped configs, plugins' doctor checks, mmpx.testing."""

from __future__ import annotations

import doctest
import json
import socket
import urllib.request

import pytest

from mmpx.configs.names import resolve_config_name
from mmpx.errors import ConfigError
from mmpx.plugins import hookimpl, hookspecs
from mmpx.plugins.manager import load_plugins
from mmpx.plugins.types import ConfigFile, DoctorCheck
from mmpx.testing import NetworkBlocked, block_network, host_for, run_cli
from tests.mmpx.plugins.test_plugins import _Distribution, _EntryPoint, _plugin


def test_every_hook_example_runs_as_documented():
    import mmpx.testing

    results = doctest.testmod(hookspecs, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 5 * 3 and results.failed == 0
    assert doctest.testmod(mmpx.testing).failed == 0
    for name in (n for n in dir(hookspecs) if n.startswith("mmpx_")):
        assert ">>>" in getattr(hookspecs, name).__doc__, f"{name} has no runnable example"


@pytest.mark.parametrize("api, expected", [
    (None, "declares no plugin API version; add MMPX_PLUGIN_API = 1"),
    (2, "made for plugin API 2, this mmpose-ext has API 1: upgrade mmpose-ext"),
    (0, "made for plugin API 0, this mmpose-ext has API 1: upgrade mmpx-old"),
    ("1", "made for plugin API '1'"),
])
def test_a_plugin_for_another_api_version_is_refused_with_what_to_do(api, expected):
    plugin = _plugin("old", api=api, mmpx_configs=lambda: 1 / 0)
    host = load_plugins(distributions=[_Distribution("mmpx-old", _EntryPoint("old", plugin))], env={})
    info = {p.name: p for p in host.plugins()}["old"]
    assert info.status == "failed" and expected in info.errors[0], info.errors
    assert not [c for c in host.configs() if c.plugin == "old"]  # its hooks are never called
    assert {p.name: p for p in host.plugins()}["mmpx.cli.builtin"].api == hookspecs.API_VERSION


def test_shipped_configs_are_listed_resolved_and_checked(tmp_path):
    good = tmp_path / "net_coco.py"
    good.write_text("x = 1\n")

    class Shipper:
        MMPX_PLUGIN_API = 1

        @hookimpl
        def mmpx_configs(self):
            return [ConfigFile("ship-net-coco", good, "a net on COCO"),
                    ConfigFile("ship-gone", tmp_path / "gone.py"),
                    ConfigFile("carpose-quickstart", good)]  # taken by mmpx itself

    host = host_for(Shipper())
    names = {c.name: c.plugin for c in host.configs()}
    assert names["ship-net-coco"] == "shipper" and names["carpose-quickstart"] == "mmpx.cli.builtin"
    assert "ship-gone" not in names and host.config_file("ship-net-coco") == good
    errors = " ".join({p.name: p for p in host.plugins()}["shipper"].errors)
    assert "'ship-gone' names" in errors and "not a file" in errors
    assert "'carpose-quickstart' is already contributed by mmpx.cli.builtin" in errors
    with pytest.raises(ValueError, match="a plain name"):
        ConfigFile("nets/coco.py", good)


def test_an_unknown_config_name_suggests_the_close_ones():
    assert resolve_config_name("mmpx::carpose-quickstart").name == "carpose_quickstart.py"
    with pytest.raises(ConfigError) as err:
        resolve_config_name("carpose-quikstart")
    assert "did you mean carpose-quickstart?" in err.value.hint


def test_configs_commands_list_and_print_paths():
    listed = run_cli("configs", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    row = {r["name"]: r for r in listed.json()}["carpose-quickstart"]
    assert row["plugin"] == "mmpx.cli.builtin" and row["path"].endswith("carpose_quickstart.py")
    assert run_cli("configs", "path", "carpose-quickstart").stdout.strip() == row["path"]
    missing = run_cli("configs", "path", "nope")
    assert missing.exit_code == 1 and missing.stdout == ""
    assert "error: no config file or shipped config named 'nope'" in missing.stderr


def test_plugins_doctor_checks_become_rows_and_a_failure_names_its_fix():
    def fine() -> str:
        return "1.2.3 builds"

    def broken() -> str:
        raise RuntimeError("libfoo.so: cannot open shared object file")

    def exits() -> str:
        raise SystemExit(3)

    class Healthy:
        MMPX_PLUGIN_API = 1

        @hookimpl
        def mmpx_doctor_checks(self):
            return [DoctorCheck("lib", fine), DoctorCheck("native", broken, fix="pip install --force-reinstall foo"),
                    DoctorCheck("quits", exits)]

    rows = {r.name: r for r in host_for(Healthy()).run_doctor_checks()}
    assert (rows["healthy: lib"].ok, rows["healthy: lib"].value) == (True, "1.2.3 builds")
    native = rows["healthy: native"]
    assert not native.ok and "libfoo.so" in native.detail and native.fix == "pip install --force-reinstall foo"
    assert not rows["healthy: quits"].ok and "SystemExit" in rows["healthy: quits"].detail


def test_block_network_refuses_connections_and_restores_everything():
    before = socket.socket.connect
    with block_network():
        with pytest.raises(NetworkBlocked):
            socket.create_connection(("127.0.0.1", 9))
        with pytest.raises(OSError):
            urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
        import os

        assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert socket.socket.connect is before


def test_run_cli_keeps_stdout_and_stderr_apart():
    result = run_cli("plugins", "list", "--json", env={"MMPX_PLUGINS": "no-such-plugin"})
    assert result.exit_code == 0
    rows = {row["name"]: row for row in result.json()}  # stdout is pure JSON: the warning went to stderr
    assert "MMPX_PLUGINS names 'no-such-plugin'" in result.stderr
    builtin = rows["mmpx.cli.builtin"]
    assert builtin["api"] == 1 and builtin["import_seconds"] >= 0
    assert "config:carpose-quickstart" in builtin["contributes"]


def test_plugins_list_table_shows_api_and_import_time():
    result = run_cli("plugins", "list", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    header = next(line for line in result.stdout.splitlines() if "plugin" in line and "status" in line)
    assert "api" in header and "import" in header


def test_host_for_names_plugins_and_checks_their_count():
    with pytest.raises(ValueError, match="2 plugins but 1 names"):
        host_for(object(), object(), names=["a"])
    info = {p.name: p for p in host_for(_plugin("mine"), names=["custom"], builtins=False).plugins()}
    assert list(info) == ["custom"]
    assert json.dumps(info["custom"].as_dict())  # plain data
