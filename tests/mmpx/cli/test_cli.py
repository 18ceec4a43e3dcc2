"""The mmpx command line: version, help, fast start, and errors as one line plus a hint."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from mmpx import __version__
from mmpx.cli.main import build_app
from mmpx.plugins.manager import load_plugins
from tests.helpers import mmpx, run, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


def test_version_both_ways():
    assert mmpx("--version").stdout.strip() == f"mmpx {__version__} (mmpose-ext)"
    script = Path(sys.executable).with_name("mmpx")  # the console script pip installed, beside python -m mmpx
    result = run([str(script), "--version"])
    assert result.returncode == 0 and result.stdout.strip() == f"mmpx {__version__} (mmpose-ext)"


def test_help_is_grouped_and_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from mmpx.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'mmengine', 'mmcv', 'mmpose', 'mmdet', 'mmpose_ext') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = run([sys.executable, "-c", code], env={"COLUMNS": "120"})
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout
    for panel in ("Train and evaluate", "Environment", "train", "test", "doctor", "plugins"):
        assert panel in result.stdout


def test_missing_config_is_one_line_with_hint(tmp_path):
    result = mmpx("train", str(tmp_path / "nope.py"))
    assert result.returncode == 1
    assert f"error: config file {tmp_path / 'nope.py'} does not exist" in result.stderr
    assert "hint:" in result.stderr and "Traceback" not in result.stderr


def test_debug_switch_shows_the_traceback(tmp_path):
    result = mmpx("--debug", "train", str(tmp_path / "nope.py"))
    assert result.returncode == 1 and "Traceback" in result.stderr and "ConfigError" in result.stderr


def test_broken_config_and_bad_override_name_the_problem(tmp_path, tiny_coco):
    broken = tmp_path / "broken.py"
    broken.write_text("model = dict(type='TopdownPoseEstimator'\n")
    result = mmpx("train", str(broken))
    assert result.returncode == 1 and f"config {broken} could not be loaded" in result.stderr
    assert "Traceback" not in result.stderr

    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    result = mmpx("train", str(config), "--cfg-options", "train_cfg.max_epochs")
    assert result.returncode == 1 and "is not KEY=VALUE" in result.stderr


def test_untrusted_checkpoint_via_cli(tmp_path, tiny_coco):
    evil = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "meta": {"cb": os.getcwd}}, evil)
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco)
    result = mmpx("test", str(config), str(evil), "--work-dir", str(tmp_path / "w"))
    assert result.returncode == 1
    assert f"error: refused to load checkpoint {evil}" in result.stderr and "posix.getcwd" in result.stderr
    assert "--trust-checkpoint" in result.stderr and "Traceback" not in result.stderr


def test_train_command_passes_its_options(monkeypatch, tmp_path):
    import mmpose_ext.apis

    seen = {}
    monkeypatch.setattr(mmpose_ext.apis, "train", lambda config, options: seen.update(config=config, **vars(options)))
    app = build_app(load_plugins(distributions=[], env={}))
    result = CliRunner().invoke(
        app,
        [
            "train",
            "cfg.py",
            "--work-dir",
            str(tmp_path),
            "--resume",
            "auto",
            "--amp",
            "--trust-checkpoint",
            "--load-from",
            "w.pth",
            "--cfg-options",
            "a=1",
            "b.c=[1,2]",
            "--cfg-options",
            "d=x",
        ],
    )
    assert result.exit_code == 0, result.output
    expected = dict(
        config=Path("cfg.py"),
        work_dir=tmp_path,
        resume="auto",
        load_from=Path("w.pth"),
        amp=True,
        cfg_options=["a=1", "d=x", "b.c=[1,2]"],
        trust_checkpoint=True,
    )
    assert {k: seen[k] for k in expected} == expected
    assert seen["no_validate"] is False and seen["freeze"] is None and seen["launcher"] == "none"
    # a stray positional is not silently taken as an override
    result = CliRunner().invoke(app, ["train", "cfg.py", "extra"])
    assert result.exit_code != 0 and "unexpected argument(s): extra" in str(result.exception)


def test_cli_reference_is_up_to_date():
    from tests.helpers import ROOT

    result = run([sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"])
    assert result.returncode == 0, result.stderr
