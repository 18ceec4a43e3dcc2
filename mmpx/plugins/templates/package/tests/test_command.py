"""The command, run as users run it: stdout and stderr apart."""

from mmpx.testing import run_cli


def test_info_prints_json_on_stdout_only():
    result = run_cli("__NAME__-info", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.json()["api"] == 1


def test_info_refuses_an_unknown_option():
    result = run_cli("__NAME__-info", "--nope")
    assert result.exit_code == 2 and "--nope" in result.stderr
