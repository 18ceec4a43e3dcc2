"""The tests' fork server (tests/forkserver.py): a child runs as a fresh ``python`` would, with the test's
directory, environment, arguments and streams; runs it cannot serve faithfully start fresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests import forkserver
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack

PROBE = """
import json, os, sys, tempfile
import numpy as np
print(json.dumps(dict(cwd=os.getcwd(), path0=sys.path[0], argv=sys.argv, env=os.environ.get('PROBE'),
                      tmp=tempfile.gettempdir(), parent=os.getppid(), draw=int(np.random.randint(1 << 30)),
                      torch='torch' in sys.modules)))
print('to stderr', file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


def _served(args, cwd, env, timeout=60):
    if os.environ.get(forkserver.SWITCH) == "0":
        pytest.skip(f"{forkserver.SWITCH}=0: the fork server is off")
    done = forkserver.run([sys.executable, *args], cwd, {**os.environ, **env}, timeout)
    assert done is not None, "the fork server did not serve (see its log in /tmp/mmpx-forkserver-*)"
    return done


def test_child_runs_as_a_fresh_interpreter(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    first = _served(["-c", PROBE, "7"], tmp_path, {"PROBE": "yes", "TMPDIR": str(tmp)})
    second = _served(["-c", PROBE, "0"], tmp_path, {})
    assert first.returncode == 7 and second.returncode == 0
    assert first.stderr == "to stderr\n"
    seen, again = json.loads(first.stdout), json.loads(second.stdout)
    assert seen["cwd"] == str(tmp_path) and seen["path0"] == "" and seen["argv"] == ["-c", "7"]
    assert seen["env"] == "yes" and again["env"] is None  # the environment is the request's, not the last one's
    assert seen["tmp"] == str(tmp)  # TMPDIR read again, as at a fresh start
    assert seen["parent"] != os.getpid() and seen["torch"]  # a child of the server, the stack imported
    assert seen["draw"] != again["draw"]  # NumPy's global generator reseeded per child, not the server's state


def test_module_run_gets_cwd_on_path(tmp_path):
    (tmp_path / "probe_mod.py").write_text("import os, sys\nprint(sys.path[0] == os.getcwd(), sys.argv[1:])\n")
    done = _served(["-m", "probe_mod", "a", "b"], tmp_path, {})
    assert (done.returncode, done.stdout) == (0, "True ['a', 'b']\n")


def test_timeout_kills_the_child(tmp_path):
    marker = tmp_path / "pid"
    code = f"import os, time; open({str(marker)!r}, 'w').write(str(os.getpid())); print('started', flush=True); " \
           "time.sleep(120)"
    with pytest.raises(subprocess.TimeoutExpired) as caught:
        _served(["-c", code], tmp_path, {}, timeout=3)
    assert caught.value.output == "started\n"
    with pytest.raises(ProcessLookupError):
        os.kill(int(marker.read_text()), 0)
    assert _served(["-c", PROBE, "0"], tmp_path, {}).returncode == 0  # the server serves on


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["train", "cfg.py"], {}, True),
        (["--debug", "test", "cfg.py", "w.pth"], {"MMPX_MAX_IMAGE_PIXELS": "10", "COLUMNS": "200"}, True),
        (["train", "cfg.py"], {"OMP_WAIT_POLICY": "ACTIVE"}, False),  # OpenMP read it when torch loaded
        (["train", "cfg.py"], {"OMP_NUM_THREADS": "2"}, False),
        (["train", "cfg.py"], {"PYTHONPATH": "/somewhere"}, False),
        (["train", "cfg.py"], {"MMPX_PLUGINS": "x"}, False),
        (["train", "cfg.py"], {"MMPX_DEBUG": "1"}, False),  # mmpx.cli reads it when it loads
        (["convert", "labelme", "a", "b"], {}, False),  # torch-free commands: their start-up is the point
        (["--version"], {}, False),
    ],
)
def test_forkable(args, env, expected, monkeypatch):
    monkeypatch.delenv(forkserver.SWITCH, raising=False)
    assert forkserver.forkable([sys.executable, "-m", "mmpx", *args], {**forkserver._BASE_ENV, **env}) is expected


@pytest.mark.slow
def test_train_through_the_server_equals_a_fresh_one(tmp_path, tiny_coco):
    """The same seeded run, served and fresh: the same weights to the last bit."""
    config = write_tiny_config(tmp_path / "cfg.py", tiny_coco, max_epochs=1)
    weights = {}
    for fresh in (True, False):
        work = tmp_path / f"fresh_{fresh}"
        done = mmpx("train", str(config), "--work-dir", str(work), "--cfg-options",
                    "randomness.seed=0", fresh=fresh)
        assert done.returncode == 0, done.stderr[-3000:]
        import torch

        weights[fresh] = torch.load(work / "epoch_1.pth", map_location="cpu", weights_only=False)["state_dict"]
    assert weights[True].keys() == weights[False].keys()
    assert all(torch.equal(weights[True][k], weights[False][k]) for k in weights[True])


def test_what_the_imports_wrote_is_not_a_difference(monkeypatch):
    """The stack's imports write variables into os.environ (cv2's Qt paths, OpenMP's KMP_*): once a test imported
    them the worker's environment has them too, with the values the server's own imports wrote."""
    monkeypatch.delenv(forkserver.SWITCH, raising=False)
    imported = forkserver._Server.environment()
    if imported is None:
        pytest.skip("the fork server does not serve here")
    written = sorted(set(imported) - set(forkserver._BASE_ENV))
    assert written, "the server's imports wrote nothing into its environment"
    args = [sys.executable, "-m", "mmpx", "train", "cfg.py"]
    same = {**forkserver._BASE_ENV, **{k: imported[k] for k in written}}
    assert forkserver.forkable(args, same)
    assert not forkserver.forkable(args, {**same, written[0]: imported[written[0]] + "-other"})
