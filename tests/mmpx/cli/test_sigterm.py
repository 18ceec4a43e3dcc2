"""SIGTERM (``kill``, ``timeout``, a batch system) ends a command as Ctrl-C does: one line, exit 143, nothing
partial, and what a streaming command promises (results so far) kept.

Before: SIGTERM left no ``--save-json``/``--save-csv``, a hidden temporary video and no message, and a conversion's
staging folder stayed behind.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from mmpx.synth.carpose import synth_carpose
from tests.mmpx.cli.test_interrupt import many_files  # noqa: F401  (a fixture: 600 labelme files)


def _terminate_when(args: list[str], ready, timeout: float = 60) -> subprocess.CompletedProcess:
    """Start ``mmpx ARGS``, wait until ``ready()``, send SIGTERM to the process alone (as ``kill PID`` does)."""
    proc = subprocess.Popen([sys.executable, "-m", "mmpx", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None and not ready():
        time.sleep(0.005)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_sigterm_during_a_conversion_leaves_nothing(many_files, tmp_path):  # noqa: F811
    out = tmp_path / "coco"
    done = _terminate_when(["convert", "labelme", str(many_files), str(out), "--workers", "2"],
                           lambda: bool(list(tmp_path.glob(".coco.mmpx-tmp-*/images/*"))))
    assert done.returncode == 143, done.stderr
    assert "error: terminated" in done.stderr and "Traceback" not in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no OUT, no staging folder, no lock file


def test_sigterm_during_inference_keeps_the_results_so_far(tmp_path):
    from tests.onnx_model import write_tiny_onnx

    model = write_tiny_onnx(tmp_path / "tiny.onnx", size=(32, 32), bias=2.0)
    imgs = tmp_path / "imgs"
    synth_carpose(imgs, 400, size=96, max_cars=1)
    results, drawn = tmp_path / "results.json", tmp_path / "vis"
    done = _terminate_when(["infer", str(imgs), "--weights", str(model), "--whole-image", "--backend", "onnxruntime",
                            "--out-dir", str(drawn), "--save-json", str(results), "--no-progress"],
                           lambda: len(list(drawn.glob("*.jpg"))) >= 5)
    assert done.returncode == 143, done.stderr
    assert "error: terminated" in done.stderr and "Traceback" not in done.stderr
    records = json.loads(results.read_text())  # the images done so far, as a whole JSON file
    images = {p.name for p in drawn.glob("*.jpg")}
    assert 5 <= len(images) < 400 and {Path(r["file_name"]).name for r in records} >= images
    assert len({r["file_name"] for r in records}) <= len(images) + 1  # at most the image being drawn at the signal
    assert not [p for p in tmp_path.rglob("*") if "mmpx-tmp" in p.name]  # no half-written drawing
