"""The thread and wait policy: threads <= free cores, passive waiting by default, the switches honoured, bad values
reported in one line, a child keeping its parent's choice, torchrun's children sharing it; ONNX Runtime sessions
built under it; ``mmpx`` puts it in the environment before anything imports torch."""

from __future__ import annotations

import os
import sys

import pytest

from mmpx.errors import MmpxError
from mmpx.runtime.threads import MARK, apply_env, choose, chosen, environment, free_cores, split
from tests.helpers import run


@pytest.mark.parametrize("cores, load, free", [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.0, 1), (2, 5.0, 1),
                                               (16, 3.2, 13), (16, 0.0, 16), (1, 0.0, 1)])
def test_free_cores(cores, load, free):
    assert free_cores(cores, load) == free


def test_auto_takes_the_free_cores_and_waits_passively():
    policy = choose({}, cores=8, load=2.0)
    assert (policy.threads, policy.interop, policy.wait, policy.source) == (6, 2, "passive", "auto")
    assert policy.describe() == "6 threads, passive waiting (auto: 8 cores, load 2.00)"
    assert choose({}, cores=2, load=0.0).interop == 1
    assert choose({}, cores=8, load=0.0, share=2).threads == 4  # the test suite's two workers
    assert choose({"MMPX_THREADS": "auto"}, cores=4, load=0.0).threads == 4


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="the running-task count is Linux's /proc/stat")
def test_a_busy_process_counts_now_and_a_finished_one_does_not():
    """The load average lags by a minute both ways; the tasks running right now count (a job that has just ended
    costs no thread, one started a moment ago does)."""
    import subprocess
    import time

    from mmpx.runtime.threads import current_load, running_others

    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        assert running_others() >= 1 and current_load() >= 1  # seen at once (the average takes a minute)
        assert choose({}, cores=2).threads == 1  # the busy process has one of the two cores
    finally:
        busy.kill()
        busy.wait()


def test_switches_override_and_mmpx_s_come_first():
    policy = choose({"MMPX_THREADS": "3", "OMP_NUM_THREADS": "7", "MMPX_WAIT_POLICY": "Active"}, cores=2, load=0)
    assert (policy.threads, policy.wait, policy.source) == (3, "active", "MMPX_THREADS=3")
    policy = choose({"OMP_NUM_THREADS": "5", "OMP_WAIT_POLICY": "PASSIVE"}, cores=2, load=1.9)
    assert (policy.threads, policy.wait) == (5, "passive")
    assert policy.describe() == "5 threads, passive waiting (OMP_NUM_THREADS=5)"


@pytest.mark.parametrize("env, words", [({"MMPX_THREADS": "two"}, "MMPX_THREADS='two' is not a thread count"),
                                        ({"MMPX_THREADS": "0"}, "MMPX_THREADS='0'"),
                                        ({"OMP_NUM_THREADS": "-1"}, "OMP_NUM_THREADS='-1'"),
                                        ({"MMPX_WAIT_POLICY": "lazy"}, "MMPX_WAIT_POLICY='lazy' is not a wait")])
def test_bad_values_are_one_line_with_a_hint(env, words):
    with pytest.raises(MmpxError) as info:
        choose(env, cores=2, load=0)
    assert words in info.value.message and info.value.hint


def test_apply_env_writes_what_openmp_reads_and_a_child_keeps_it():
    env: dict[str, str] = {}
    policy = apply_env(env)
    assert env["OMP_WAIT_POLICY"] == "PASSIVE" and env["OMP_NUM_THREADS"] == env["MMPX_THREADS"] == str(
        policy.threads)
    assert chosen(env) == policy
    env["OMP_NUM_THREADS"] = "99"  # what a child inherits is not re-read as the user's switch
    assert apply_env(env) == policy
    assert chosen({}) is None and chosen({MARK: "garbage"}) is None
    env[MARK] = "4,2,passive,4,0.00,auto"  # the test suite's parent; each of its two workers gets half
    assert apply_env(env, share=2).threads == 2 and env["OMP_NUM_THREADS"] == "2" and chosen(env).threads == 2


def test_torchrun_children_share_the_threads():
    policy = choose({}, cores=8, load=0.0)
    assert split(policy, 2).threads == 4 and split(policy, 3).threads == 2 and split(policy, 16).threads == 1
    assert environment(split(policy, 4))["OMP_NUM_THREADS"] == "2"


def test_onnx_runtime_sessions_follow_the_policy(monkeypatch):
    pytest.importorskip("onnxruntime")
    from mmpx.runtime.threads import session_options

    monkeypatch.setenv(MARK, "3,1,passive,4,0.00,auto")
    options = session_options()
    assert options.intra_op_num_threads == 3 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert session_options(2).intra_op_num_threads == 2
    monkeypatch.setenv(MARK, "3,1,active,4,0.00,MMPX_WAIT_POLICY=active")
    with pytest.raises(RuntimeError):  # not set: ONNX Runtime's default (spinning)
        session_options().get_session_config_entry("session.intra_op.allow_spinning")


def test_mmpx_sets_the_policy_before_any_command(monkeypatch, capsys):
    from mmpx.cli.main import main

    for name in (MARK, "MMPX_THREADS", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MMPX_WAIT_POLICY", "MKL_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)  # undone after the test, the ones main() sets included
    with pytest.raises(SystemExit):
        main(["--version"])
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE" and int(os.environ["OMP_NUM_THREADS"]) >= 1
    assert chosen() is not None
    result = run([sys.executable, "-m", "mmpx", "--version"], env={MARK: "", "MMPX_THREADS": "lots"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "MMPX_THREADS='lots' is not a thread count" in result.stderr


def test_die_with_parent_takes_on_linux():
    if not sys.platform.startswith("linux"):
        pytest.skip("prctl is Linux's")
    code = "from mmpx.runtime.lifetime import die_with_parent; import os; print(die_with_parent(os.getppid()))"
    result = run([sys.executable, "-c", code])
    assert result.stdout.strip() == "True", result.stderr
