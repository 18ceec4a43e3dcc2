"""`mmpx train/test --nproc N`: each torchrun child re-runs the user's own command line, less the launch options."""

from __future__ import annotations

import pytest

from mmpx.app.launch import child_argv
from mmpx.cli import _session as cli_main


def test_child_argv_keeps_everything_but_the_launch_options():
    argv = ["train", "cfg.py", "--nproc", "2", "--master-port=29600", "--seed", "3", "--freeze", "backbone:2",
            "--cfg-options", "a=1", "b=2", "--device=cpu", "--progress", "--some-future-option", "x",
            "--no-preflight", "--launcher", "none", "--nnodes", "1", "--node-rank=0", "--master-addr", "h"]
    assert child_argv(argv, "--device", "cpu", "--no-preflight") == [
        "train", "cfg.py", "--seed", "3", "--freeze", "backbone:2", "--cfg-options", "a=1", "b=2",
        "--some-future-option", "x", "--device", "cpu", "--no-preflight",
    ]  # fmt: skip


def test_command_argv_is_what_main_was_given(monkeypatch):
    monkeypatch.setitem(cli_main._state, "argv", ["--debug", "test", "c.py", "k.pth", "--nproc", "2"])
    assert cli_main.command_argv() == ["test", "c.py", "k.pth", "--nproc", "2"]
    monkeypatch.setitem(cli_main._state, "argv", None)
    with pytest.raises(RuntimeError, match="only known inside mmpx's main"):
        cli_main.command_argv()
