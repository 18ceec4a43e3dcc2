"""Ctrl-C during a many-file labelme conversion.

Before: every worker printed a ``KeyboardInterrupt`` traceback, and now and then the main process hung with
defunct workers and a temp folder left (a worker killed by the signal while holding the pool's task-queue lock).
Here a real SIGINT goes to the whole process group, as a terminal sends it, at several moments of the work.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.mmpx.convert.test_convert_safety import snapshot

FILES = 600
# exit 130, or (now and then, decided in the interpreter's shutdown) death by SIGINT: a shell shows 130 for both
INTERRUPTED = (130, -signal.SIGINT)


@pytest.fixture(scope="module")
def many_files(tmp_path_factory) -> Path:
    """600 labelme files with embedded images (about 60 KB each), so that two workers take a while."""
    import cv2

    src = tmp_path_factory.mktemp("interrupt") / "labels"
    src.mkdir()
    pixels = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    ok, buf = cv2.imencode(".png", pixels)
    assert ok
    data = base64.b64encode(buf.tobytes()).decode()
    for i in range(FILES):
        doc = dict(version="5.2.1", flags={}, imagePath=f"im{i:04d}.png", imageData=data, imageHeight=120,
                   imageWidth=160, shapes=[
                       dict(label="car", points=[[0, 0], [150, 110]], group_id=1, shape_type="rectangle",
                            flags={}),
                       dict(label="nose", points=[[10, 10]], group_id=1, shape_type="point", flags={}),
                       dict(label="tail", points=[[100, 100]], group_id=1, shape_type="point", flags={})])
        (src / f"f{i:04d}.json").write_text(json.dumps(doc))
    return src


def _interrupt(src: Path, out: Path, after: float, *extra: str) -> tuple[subprocess.CompletedProcess, float]:
    """Start the conversion, wait until its staging folder holds images, wait ``after`` s more, then send
    SIGINT to its process group; returns the finished process and the seconds it took to exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "mmpx", "convert", "labelme", str(src), str(out), "--workers", "2", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        stages = list(out.parent.glob(f".{out.name}.mmpx-tmp-*/images/*"))
        if stages:
            break
        time.sleep(0.005)
    time.sleep(after)
    sent = time.monotonic()
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        stdout, stderr = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("the conversion did not end within 30 s of Ctrl-C")
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), time.monotonic() - sent


def test_ctrl_c_ends_quickly_quietly_and_leaves_nothing(many_files, tmp_path):
    out = tmp_path / "coco"
    interrupted = 0
    for after in (0.0, 0.02, 0.05, 0.1, 0.15, 0.2):
        done, seconds = _interrupt(many_files, out, after)
        if done.returncode == 0 or out.exists():  # finished before the signal (or while exiting): complete
            import shutil

            shutil.rmtree(out)
            continue
        interrupted += 1
        assert done.returncode in INTERRUPTED, done.stderr
        assert seconds < 2, f"took {seconds:.2f} s to stop"
        assert "Traceback" not in done.stderr and "KeyboardInterrupt" not in done.stderr, done.stderr
        assert done.stderr.strip().splitlines() == ["error: interrupted"], done.stderr
        assert not out.exists()
        assert sorted(p.name for p in tmp_path.iterdir()) == [], "a staging folder was left behind"
    assert interrupted >= 3, "the conversion finished before most interrupts: make the corpus larger"


def test_ctrl_c_keeps_the_previous_dataset(many_files, tmp_path):
    out = tmp_path / "coco"
    first = subprocess.run([sys.executable, "-m", "mmpx", "convert", "labelme", str(many_files), str(out)],
                           capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    before = snapshot(out)
    done, _ = _interrupt(many_files, out, 0.05, "--overwrite", "--seed", "1")
    assert done.returncode in INTERRUPTED, done.stderr
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["coco"]
