"""One plugin cannot take down, silence or stall mmpx: SystemExit or KeyboardInterrupt raised
by a hook is that plugin's error, a real Ctrl-C still stops mmpx, prints never reach stdout (``--json``), and a
slow plugin is named with its time."""

from __future__ import annotations

import os
import signal
import time

import pytest

from mmpx.cli.main import build_app
from mmpx.plugins.manager import load_plugins
from tests.mmpx.plugins.test_plugins import _Distribution, _EntryPoint, _plugin


class _LoudEntryPoint(_EntryPoint):
    def __init__(self, name, module, delay=0.0):
        super().__init__(name, module)
        self.delay = delay

    def load(self):
        print("hello from a plugin that prints at import")
        time.sleep(self.delay)
        return super().load()


def _raising(exc):
    def hook():
        raise exc
    return hook


def _host(*pairs, delay=0.0):
    dists = [_Distribution(name, _LoudEntryPoint(name, module, delay)) for name, module in pairs]
    return load_plugins(distributions=dists, env={})


@pytest.mark.parametrize("exc", [SystemExit(3), KeyboardInterrupt()])
def test_a_hook_raising_systemexit_or_keyboardinterrupt_is_its_own_error(exc, capsys):
    host = _host(("rude", _plugin("rude", mmpx_cli_commands=_raising(exc))))
    names = [c.name for c in host.cli_commands()]
    assert "train" in names  # the built-in commands are all there
    info = {p.name: p for p in host.plugins()}["rude"]
    assert info.status == "error" and type(exc).__name__ in info.errors[0]
    build_app(host)  # --help can be built
    assert "hello from a plugin" not in capsys.readouterr().out  # its print went to stderr


def test_a_real_ctrl_c_still_stops_mmpx():
    def slow_hook():
        os.kill(os.getpid(), signal.SIGINT)  # the user presses Ctrl-C while the plugin works
        time.sleep(2)
        return []

    host = _host(("slow", _plugin("slow", mmpx_cli_commands=slow_hook)))
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        host.cli_commands()
    assert time.perf_counter() - start < 1.5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_a_slow_plugin_is_named_with_its_time():
    host = _host(("sleepy", _plugin("sleepy")), delay=1.2)
    assert any("plugin sleepy took 1." in w and "MMPX_BLOCK_PLUGINS=sleepy" in w for w in host.warnings)
    assert {p.name: p for p in host.plugins()}["sleepy"].seconds >= 1.2
