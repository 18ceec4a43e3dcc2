"""What a plugin author meets: errors from plugin code name the plugin, name clashes are warned about, and
`mmpx plugins list` reads at 80 columns."""

from __future__ import annotations

import email.message
import importlib.metadata
import textwrap

import pytest

from mmpx.plugins import Command, hookimpl
from mmpx.plugins.blame import plugin_error, plugin_of, project_url
from mmpx.plugins.manager import load_plugins
from mmpx.plugins.scaffold import PIECES, installed_clashes
from mmpx.testing import host_for, run_cli


class _EntryPoint:
    def __init__(self, name, value, plugin):
        self.name, self.group, self.value, self._plugin = name, "mmpx", value, plugin

    def load(self):
        return self._plugin


class _Distribution:
    def __init__(self, name, version, entry_point):
        self.metadata, self.version, self.entry_points = {"Name": name}, version, [entry_point]


@pytest.fixture
def boom(tmp_path, monkeypatch):
    """An installed-looking plugin ``boom`` (package ``mmpx_boom``) whose command raises from its own code."""
    package = tmp_path / "mmpx_boom"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "code.py").write_text(textwrap.dedent('''
        def run() -> None:
            """Fail as a buggy plugin does."""
            raise RuntimeError("the wing count went negative")
    '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    import mmpx_boom.code

    class Plugin:
        MMPX_PLUGIN_API = 1

        @hookimpl
        def mmpx_cli_commands(self):
            return [Command("boom", mmpx_boom.code.run)]

    yield load_plugins([_Distribution("mmpx-plugin-boom", "1.2", _EntryPoint("boom", "mmpx_boom.plugin", Plugin()))],
                       env={})
    for name in ("mmpx_boom", "mmpx_boom.code"):
        __import__("sys").modules.pop(name, None)


def _raise_from_plugin():
    import mmpx_boom.code

    try:
        mmpx_boom.code.run()
    except RuntimeError as exc:
        return exc


def test_an_error_raised_in_plugin_code_names_the_plugin(boom):
    assert plugin_of(_raise_from_plugin(), boom).name == "boom"
    message, hint = plugin_error(_raise_from_plugin(), boom)
    assert message == "RuntimeError: the wing count went negative (raised in plugin boom (mmpx-plugin-boom 1.2))"
    assert "not in mmpx: report it to the author of mmpx-plugin-boom" in hint and "MMPX_BLOCK_PLUGINS=boom" in hint


def test_an_error_of_mmpx_itself_is_not_blamed_on_a_plugin(boom):
    assert plugin_error(ValueError("a bug of mmpx's"), boom) is None


def test_a_message_that_names_a_plugin_module_blames_it(boom):
    # mmengine re-raises a class's error with the class's module in the message, and the traceback is mmengine's
    exc = TypeError("class `BoomNet` in mmpx_boom.backbone: __init__() got an unexpected keyword argument 'x'")
    assert plugin_of(exc, boom).name == "boom"


def test_a_data_loader_workers_traceback_text_blames_the_plugin(boom, tmp_path):
    # torch re-raises a worker's exception with the worker's traceback as text only
    where = tmp_path / "mmpx_boom" / "code.py"
    exc = ValueError(f'Caught ValueError in DataLoader worker process 0.\nOriginal Traceback (most recent call '
                     f'last):\n  File "{where}", line 4, in run\nValueError: bad image')
    assert plugin_of(exc, boom).name == "boom"


def test_the_project_url_of_its_metadata_is_where_to_report(monkeypatch):
    meta = email.message.Message()
    meta["Name"] = "mmpx-plugin-boom"
    meta["Project-URL"] = "Homepage, https://example.org/boom"
    meta["Project-URL"] = "Issues, https://example.org/boom/issues"
    monkeypatch.setattr(importlib.metadata, "metadata", lambda name: meta)
    assert project_url("mmpx-plugin-boom") == "https://example.org/boom/issues"
    assert project_url(None) is None


def test_mmpx_prints_the_plugin_and_not_this_is_unexpected(boom, monkeypatch, capsys):
    import mmpx.cli.main as main

    monkeypatch.setattr(main, "get_host", lambda: boom)
    with pytest.raises(SystemExit) as exited:
        main.main(["boom"])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "raised in plugin boom (mmpx-plugin-boom 1.2)" in err and "this is unexpected" not in err


def test_a_new_plugin_named_like_an_installed_one_is_warned_about():
    class Example:
        MMPX_PLUGIN_API = 1

        @hookimpl
        def mmpx_cli_commands(self):
            return [Command("example-info", "mmpx_example.cli:info")]

    clashes = installed_clashes("example", PIECES, host_for(Example(), names=["example"]))
    assert any("a plugin named 'example' is installed" in c for c in clashes)
    assert any("command 'example-info' is taken by plugin example" in c for c in clashes)
    assert installed_clashes("wings", PIECES, host_for(Example(), names=["example"])) == []


def test_plugins_new_warns_on_stderr_and_still_writes(tmp_path):
    try:
        importlib.metadata.version("mmpx-plugin-example")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("the example plugin is not installed in this environment")
    result = run_cli("plugins", "new", "example", "--dir", tmp_path / "ex")
    assert result.exit_code == 0, result.stderr
    assert "warning: mmpx plugins new example: a plugin named 'example' is installed" in result.stderr
    assert (tmp_path / "ex" / "mmpx_example" / "plugin.py").is_file()


def test_plugins_list_fits_80_columns_and_wide_is_a_table():
    result = run_cli("plugins", "list", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, [line for line in lines if len(line) > 80]
    assert any(line.startswith("mmpx.cli.builtin (built-in)") and "loaded" in line for line in lines)
    assert any(line.strip().startswith("adds:  command: browse, check") for line in lines)
    wide = run_cli("plugins", "list", "--wide", env={"COLUMNS": "200"})
    header = next(line for line in wide.stdout.splitlines() if "plugin" in line and "status" in line)
    assert "api" in header and "import" in header
