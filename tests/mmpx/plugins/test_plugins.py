"""The plugin host: discovery through (faked) entry points, isolation of broken plugins, switches, the CLI."""

from __future__ import annotations

import json
import re
import sys
import types
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from mmpx.cli.main import build_app
from mmpx.plugins import hookimpl, hookspecs
from mmpx.plugins.manager import load_plugins
from mmpx.plugins.types import Command, ModuleContribution
from tests.helpers import ROOT


class _EntryPoint:
    def __init__(self, name: str, module: types.ModuleType | None, error: BaseException | None = None,
                 group: str = "mmpx"):
        self.name, self.group, self.value = name, group, f"fake_{name}"
        self._module, self._error = module, error

    def load(self):
        if self._error is not None:
            raise self._error
        return self._module


class _Distribution:
    """Stands in for an installed distribution, as pluggy's own tests fake importlib.metadata."""

    def __init__(self, name: str, *entry_points: _EntryPoint, version: str = "1.0"):
        self.metadata = {"Name": name}
        self.version = version
        self.entry_points = list(entry_points)


def _plugin(name: str, api=1, **hooks) -> types.ModuleType:
    module = types.ModuleType(name)
    if api is not None:
        module.MMPX_PLUGIN_API = api
    for hook_name, func in hooks.items():
        setattr(module, hook_name, hookimpl(func) if hook_name.startswith("mmpx_") else func)
    return module


def _hello(name: str = "world") -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


def _convert(src: Path, out: Path) -> None:
    """Convert a fake dataset."""
    typer.echo(f"converted {src} -> {out}")


GOOD = _plugin(
    "good",
    mmpx_modules=lambda: [ModuleContribution("MODELS", "GoodNet", "json")],
    mmpx_cli_commands=lambda: [Command("hello", _hello)],
    mmpx_converters=lambda: [Command("fake", _convert)],
)


def _host(*dists, env=None):
    return load_plugins(distributions=list(dists), env=env or {})


def test_entry_point_plugin_contributes_through_every_hook():
    host = _host(_Distribution("mmpx-good", _EntryPoint("good", GOOD), version="2.1"))
    info = {p.name: p for p in host.plugins()}["good"]
    assert (info.status, info.version, info.distribution) == ("loaded", "2.1", "mmpx-good")
    assert info.hooks == ["mmpx_cli_commands", "mmpx_converters", "mmpx_modules"]
    assert [(c.plugin, c.item.name) for c in host.modules()] == [("good", "GoodNet")]
    assert "hello" in [c.name for c in host.cli_commands()]
    assert [c.name for c in host.converters() if c.plugin == "good"] == ["fake"]


def test_plugin_cli_command_and_converter_run():
    app = build_app(_host(_Distribution("mmpx-good", _EntryPoint("good", GOOD))))
    runner = CliRunner()
    assert runner.invoke(app, ["hello", "--name", "mmpx"]).output.strip() == "hello mmpx"
    result = runner.invoke(app, ["convert", "fake", "a", "b"])
    assert result.exit_code == 0 and "converted a -> b" in result.output


def test_only_the_typed_command_is_built():
    """Start-up: ``mmpx infer ...`` builds infer alone; the full tree for the rest."""
    import typer

    host = _host(_Distribution("mmpx-good", _EntryPoint("good", GOOD)))

    def names(app):
        return sorted(typer.main.get_command(app).commands)

    full = names(build_app(host))
    assert {"infer", "train", "convert", "hello", "plugins"} <= set(full)
    assert names(build_app(host, "infer")) == ["infer"]
    assert names(build_app(host, "hello")) == ["hello"]  # a plugin's command too
    assert names(build_app(host, "convert")) == ["convert"]
    for other in (None, "nosuch", "plugins", "doctor"):  # unknown names get the full tree (suggestions)
        assert names(build_app(host, other)) == full
    runner = CliRunner()
    result = runner.invoke(build_app(host, "hello"), ["hello", "--name", "x"])
    assert result.output.strip() == "hello x"
    helps = [runner.invoke(build_app(host, c), ["infer", "--help"], terminal_width=100).output for c in ("infer", None)]
    assert helps[0] == helps[1] and "--weights" in helps[0]


def test_broken_plugins_are_recorded_and_the_rest_still_works():
    raising_hook = _plugin("raises", mmpx_cli_commands=lambda: 1 / 0)
    unknown_hook = _plugin("unknown", mmpx_not_a_hook=lambda: [])
    bad_command = _plugin("badcmd", mmpx_cli_commands=lambda: [Command("bad", object())])
    wrong_record = _plugin("wrongrec", mmpx_converters=lambda: ["labelme"], mmpx_modules=lambda: 5)
    host = _host(
        _Distribution("mmpx-good", _EntryPoint("good", GOOD)),
        _Distribution(
            "mmpx-import", _EntryPoint("import-error", None, ImportError("no module named torchy"))
        ),
        _Distribution("mmpx-exit", _EntryPoint("exits", None, SystemExit(3))),
        _Distribution("mmpx-raises", _EntryPoint("raises", raising_hook)),
        _Distribution("mmpx-unknown", _EntryPoint("unknown", unknown_hook)),
        _Distribution("mmpx-badcmd", _EntryPoint("badcmd", bad_command)),
        _Distribution("mmpx-wrongrec", _EntryPoint("wrongrec", wrong_record)),
    )
    host.modules()
    app = build_app(host)
    info = {p.name: p for p in host.plugins()}
    assert info["import-error"].status == "failed" and "torchy" in info["import-error"].errors[0]
    assert info["exits"].status == "failed" and "SystemExit" in info["exits"].errors[0]
    assert info["raises"].status == "error" and "ZeroDivisionError" in info["raises"].errors[0]
    assert info["unknown"].status == "failed" and "mmpx_not_a_hook" in info["unknown"].errors[0]
    assert info["badcmd"].status == "error" and "expected a typer.Typer" in info["badcmd"].errors[0]
    errors = " | ".join(info["wrongrec"].errors)
    assert "mmpx_converters: returned str 'labelme', expected Command" in errors
    assert "mmpx_modules: TypeError" in errors  # the hook returned a non-list
    assert info["good"].status == "loaded"
    # the CLI still works, with the good plugin's command
    assert CliRunner().invoke(app, ["hello"]).output.strip() == "hello world"


def test_duplicate_names_are_refused():
    twin = _plugin(
        "twin", mmpx_cli_commands=lambda: [Command("hello", _hello), Command("train", _hello)]
    )
    host = _host(
        _Distribution("mmpx-good", _EntryPoint("good", GOOD)),
        _Distribution("mmpx-twin", _EntryPoint("twin", twin)),
    )
    owners = {c.name: c.plugin for c in host.cli_commands()}
    assert owners["hello"] == "good"  # first by plugin name wins; the other is reported
    assert owners["train"] == "mmpx.cli.builtin"  # a plugin cannot replace a built-in command
    errors = {p.name: p.errors for p in host.plugins()}["twin"]
    assert any("'hello' is already contributed by good" in e for e in errors)
    assert any("'train' is already contributed by mmpx.cli.builtin" in e for e in errors)


def test_switches_block_allow_and_disable():
    dists = [_Distribution("a", _EntryPoint("a", GOOD)), _Distribution("b", _EntryPoint("b", _plugin("b")))]

    def status(env):
        return {
            p.name: p.status for p in load_plugins(distributions=dists, env=env).plugins() if not p.builtin
        }

    assert status({}) == {"a": "loaded", "b": "loaded"}
    assert status({"MMPX_BLOCK_PLUGINS": "a"}) == {"a": "blocked", "b": "loaded"}
    assert status({"MMPX_PLUGINS": "b"}) == {"a": "not-allowed", "b": "loaded"}
    assert status({"MMPX_DISABLE_PLUGIN_AUTOLOAD": "1"}) == {"a": "disabled", "b": "disabled"}
    assert status({"MMPX_DISABLE_PLUGIN_AUTOLOAD": "1", "MMPX_PLUGINS": "a"}) == {
        "a": "loaded",
        "b": "disabled",
    }


def test_trace_switch_prints_hook_calls(capsys):
    host = load_plugins(
        distributions=[_Distribution("a", _EntryPoint("a", GOOD))], env={"MMPX_TRACE_PLUGINS": "1"}
    )
    host.cli_commands()
    assert "mmpx_cli_commands" in capsys.readouterr().err


@pytest.mark.stack
def test_register_modules_checks_the_promise():
    """A module that imports without registering the promised name is reported on its plugin."""
    from mmpose_ext.plugins import register_plugin_modules

    liar = _plugin("liar", mmpx_modules=lambda: [ModuleContribution("MODELS", "NotThere", "json")])
    broken = _plugin("broken", mmpx_modules=lambda: [ModuleContribution("MODELS", "X", "no_such_module_xyz")])
    host = _host(
        _Distribution("l", _EntryPoint("liar", liar)), _Distribution("b", _EntryPoint("broken", broken))
    )
    assert register_plugin_modules(host) == []
    errors = {p.name: " ".join(p.errors) for p in host.plugins()}
    assert "did not register 'NotThere'" in errors["liar"]
    assert "no_such_module_xyz" in errors["broken"]


def test_module_contribution_validates_registry():
    with pytest.raises(ValueError, match="unknown registry"):
        ModuleContribution("BACKBONES", "X", "x")


def test_plugins_list_json_shows_errors_while_working(monkeypatch):
    host = _host(
        _Distribution("mmpx-good", _EntryPoint("good", GOOD)),
        _Distribution("mmpx-bad", _EntryPoint("bad", None, ImportError("boom"))),
    )
    monkeypatch.setattr("mmpx.cli.plugins.get_host", lambda: host)
    result = CliRunner().invoke(build_app(host), ["plugins", "list", "--json"])
    table = CliRunner().invoke(build_app(host), ["plugins", "list"])
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["good"]["contributes"] == ["MODELS:GoodNet", "command:hello", "converter:fake"]
    assert rows["bad"]["status"] == "failed" and "boom" in rows["bad"]["errors"][0]
    assert table.exit_code == 0 and "boom" in table.output


def test_discovery_is_not_done_at_import_time():
    from tests.helpers import run

    result = run(
        [
            sys.executable,
            "-c",
            "import mmpx.cli.main, mmpx.plugins, sys; "
            "print(any(m.startswith('mmpx_plugin_example') for m in sys.modules))",
        ]
    )
    assert result.stdout.strip() == "False", result.stderr


HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("mmpx_"))


def test_every_hook_is_documented_with_its_signature():
    import inspect

    docs = (ROOT / "docs" / "guides" / "plugins.md").read_text()
    for name in HOOKS:
        signature = f"{name}{inspect.signature(getattr(hookspecs, name))}".replace("'", "")
        assert re.search(rf"^#+ `{re.escape(name)}`", docs, re.M), f"no heading for {name} in docs/guides/plugins.md"
        assert signature in docs, f"docs/guides/plugins.md lacks the exact signature {signature}"


def test_every_hook_has_a_test():
    tests = "".join(p.read_text() for p in (ROOT / "tests").rglob("test_*.py"))
    tests += "".join(p.read_text() for p in (ROOT / "plugins").glob("*/tests/test_*.py"))
    for name in HOOKS:
        assert tests.count(name) >= 2, f"{name} is not exercised by any test"


def test_a_command_imports_only_its_own_module():
    """Start-up: `mmpx infer ...` does not import the other commands' modules."""
    import subprocess
    import sys

    code = ("import sys\nfrom mmpx.cli.main import main\ntry:\n    main(['infer', '--help'])\n"
            "except SystemExit:\n    pass\nprint(' '.join(m for m in sys.modules if m.startswith('mmpx.cli.')), "
            "file=sys.stderr)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    imported = set(result.stderr.strip().splitlines()[-1].split())
    assert "mmpx.cli.infer" in imported and "Usage: mmpx infer" in result.stdout
    assert not imported & {"mmpx.cli.train", "mmpx.cli.export", "mmpx.cli.browse", "mmpx.cli.doctor",
                           "mmpx.cli.convert"}, imported


def test_a_command_in_a_group_is_one_record_whoever_contributes_it():
    """``Command(..., group="convert")`` from mmpx_cli_commands is a converter, as mmpx_converters' records are; a
    "module:name" target is imported only when its group is built."""
    grouped = _plugin("grouped", mmpx_cli_commands=lambda: [
        Command("from-json", "tests.mmpx.plugins.test_plugins:_convert", group="convert"),
        Command("fake", _convert, group="convert"),  # taken by the plugin good
    ])
    host = _host(_Distribution("g", _EntryPoint("grouped", grouped)), _Distribution("a", _EntryPoint("good", GOOD)))
    assert [(c.plugin, c.name) for c in host.converters() if not host.is_builtin(c.plugin)] == [
        ("good", "fake"), ("grouped", "from-json")]
    assert "from-json" not in [c.name for c in host.cli_commands()]
    errors = {p.name: p.errors for p in host.plugins()}["grouped"]
    assert errors == ["mmpx_cli_commands: 'fake' is already contributed by good; ignored"]
    result = CliRunner().invoke(build_app(host, "convert"), ["convert", "from-json", "a", "b"])
    assert result.exit_code == 0 and "converted a -> b" in result.output
    with pytest.raises(ValueError, match="unknown command group 'export'"):
        Command("x", _hello, group="export")


def test_a_plugin_in_the_former_entry_point_group_loads_with_a_one_line_warning():
    both = _plugin("both")
    host = _host(_Distribution("mmpx-old", _EntryPoint("old", _plugin("old"), group="mmpose_ext")),
                 _Distribution("mmpx-both", _EntryPoint("both", both), _EntryPoint("both", both, group="mmpose_ext")))
    info = {p.name: p for p in host.plugins()}
    assert info["old"].status == "loaded" and info["both"].status == "loaded"
    assert host.warnings == ["plugin old (mmpx-old) declares its entry point in the group 'mmpose_ext', read until "
                             "the next release: move it to [project.entry-points.mmpx]"]
