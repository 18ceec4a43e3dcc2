"""Locks where runs meet, cleanup by lock instead of by process id, recovery instead of deletion.

Before: two ``convert labelme --append`` at once both exited 0 with the same first ids (44 of 50 images kept);
the leftover cleanup judged a staging folder dead by its PID, so a run from another PID namespace lost 706 of
2,020 images; a crash between "move the old dataset aside" and "move the new one in", then any later command,
deleted both; ``data synth --n 3`` then ``--n 2`` left a mix of two runs; two ``infer --save-labelme`` into one
folder put one run's pre-label on the other's image.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmpx.atomic import stale
from mmpx.atomic.lock import hold, is_held, lock_path
from mmpx.errors import MmpxError
from mmpx.synth.carpose import synth_carpose
from mmpx.testing import carpose_data, run_cli
from tests.mmpx.convert.test_convert_append import batch, coco, snapshot

HOLD = """
import sys, time
from mmpx.atomic.lock import hold
with hold(sys.argv[1], "dataset"):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(target: Path, seconds: float = 30) -> subprocess.Popen:
    """Another process holding ``target``'s lock (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(target), str(seconds)], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_holder_is_refused_with_who_holds_it(tmp_path):
    target = tmp_path / "data"
    proc = _holder(target)
    try:
        with pytest.raises(MmpxError, match=rf"dataset {target} is in use by another mmpx run \(pid {proc.pid} on "):
            with hold(target, "dataset"):
                pass
    finally:
        proc.kill()
        proc.wait()
    with hold(target, "dataset"), hold(target, "dataset"):  # free again once it is killed; re-entrant in one process
        assert is_held(lock_path(target))  # seen as held from any other open file, this process's included
    assert not lock_path(target).exists()  # removed when the run ends: nothing left beside the target


def test_two_appends_at_once_never_lose_images_or_share_ids(tmp_path):
    base = carpose_data(tmp_path / "base", n=8, size=64)
    new = [batch(tmp_path / f"new{i}", 5, seed=10 + i) for i in range(2)]
    accepted = []
    for round_ in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "mmpx", "convert", "labelme", str(src), str(base),
                                   "--append", "--seed", str(round_)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for src in new]
        for proc, src in zip(procs, new, strict=True):
            out, err = proc.communicate(timeout=120)
            if proc.returncode == 0:
                accepted.append(src)
            else:  # refused at once, naming the other run; nothing of it was written
                assert proc.returncode == 1 and "is in use by another mmpx run" in err, err
    images, anns = [], []
    for split in ("train", "val"):
        doc = coco(base, split)
        images += doc["images"]
        anns += doc["annotations"]
    ids = [i["id"] for i in images]
    assert len(ids) == len(set(ids)) and len({a["id"] for a in anns}) == len(anns)
    assert all((base / "images" / i["file_name"]).is_file() for i in images)
    first_time = len({str(s) for s in accepted})  # a batch appended again is all duplicates: added once
    assert len(images) == 8 + 5 * first_time


def test_cleanup_keeps_a_staging_folder_that_a_live_process_holds_whatever_its_pid(tmp_path):
    """A run in another PID namespace: its folder's name carries a PID that does not exist here, but it holds the
    lock. Another conversion beside it must not touch it; once the holder is gone it is removed."""
    stage = tmp_path / "a" / ".coco.mmpx-tmp-p999999-abcd"
    (stage / "images").mkdir(parents=True)
    (stage / "images" / "0.png").write_bytes(b"png")
    old = time.time() - 3600
    os.utime(stage, (old, old))
    proc = subprocess.Popen([sys.executable, "-c", "import fcntl, os, sys, time\n"
                             "fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
                             "print('held', flush=True); time.sleep(60)", str(stage)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        carpose_data(tmp_path / "a", n=4, size=64)  # converts into a/data: cleans what ended runs left in a/
        assert (stage / "images" / "0.png").is_file()
    finally:
        proc.kill()
        proc.wait()
    assert stale.clean_stale(tmp_path / "a") == [stage]


def test_a_fresh_unlocked_temporary_is_left_for_its_run_to_lock(tmp_path):
    young = tmp_path / ".x.mmpx-tmp-p1-young"
    young.mkdir()
    assert stale.clean_stale(tmp_path) == [] and young.is_dir()


def _crash_overwrite(src: Path, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MMPX_CRASH_AT": "between-renames"}
    return subprocess.run([sys.executable, "-m", "mmpx", "convert", "labelme", str(src), str(out), "--overwrite"],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_crash_between_the_two_renames_loses_nothing(tmp_path):
    data = carpose_data(tmp_path / "set", n=6, size=64)
    labels = tmp_path / "set" / "labelme"
    before = snapshot(data)["files"]
    crashed = _crash_overwrite(labels, data)
    assert crashed.returncode == -9, crashed.stderr  # killed at the worst moment
    assert not data.exists() and stale.moved_aside(data)
    # any later command beside it: the moved-aside dataset is not a leftover to delete
    other = run_cli("convert", "labelme", labels, tmp_path / "set" / "other")
    assert other.exit_code == 0, other.stderr
    assert stale.moved_aside(data) and not data.exists()
    # the next command that writes the dataset puts it back first, and says so
    again = run_cli("convert", "labelme", labels, data)
    assert again.exit_code == 1 and "restored" in again.stderr and "not empty" in again.stderr, again.stderr
    assert snapshot(data)["files"] == before and not stale.moved_aside(data)


def test_a_copy_left_beside_a_complete_dataset_is_kept_and_named(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "report.json").write_text("{}")
    old = stale.old_name(data)
    old.mkdir()
    (old / "keep.txt").write_text("mine")
    notes = stale.recover(data)
    assert len(notes) == 1 and "was kept" in notes[0] and (old / "keep.txt").read_text() == "mine"
    assert stale.clean_stale(tmp_path) == [] and old.is_dir()


def test_synth_into_its_earlier_output_replaces_the_whole_set(tmp_path):
    out = tmp_path / "synth"
    synth_carpose(out, 3, size=64)
    synth_carpose(out, 2, size=64)
    assert sorted(p.name for p in out.iterdir()) == [".mmpx-synth", "000000.jpg", "000000.json", "000001.jpg",
                                                    "000001.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synth"]


def test_two_save_labelme_runs_into_one_folder(tmp_path):
    from tests.onnx_model import write_tiny_onnx

    model = write_tiny_onnx(tmp_path / "tiny.onnx", size=(32, 32), bias=2.0)
    imgs = tmp_path / "imgs"
    synth_carpose(imgs, 150, size=64, max_cars=1)
    out = tmp_path / "pre"
    args = [sys.executable, "-m", "mmpx", "infer", str(imgs), "--weights", str(model), "--whole-image",
            "--backend", "onnxruntime", "--save-labelme", str(out), "--no-progress"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not lock_path(out).exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    second = subprocess.run(args, capture_output=True, text=True, timeout=120)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    # refused at once while the first runs (or, if it already ended, because its pre-labels are there)
    assert second.returncode == 1 and ("is in use by another mmpx run" in second.stderr
                                       or "already exists" in second.stderr), second.stderr
    for doc in out.glob("*.json"):  # every pre-label sits beside the image it describes
        assert json.loads(doc.read_text())["imagePath"] == doc.with_suffix(".jpg").name
    assert len(list(out.glob("*.json"))) == 150


def test_a_reader_puts_a_moved_aside_dataset_back_first(tmp_path):
    data = carpose_data(tmp_path / "set", n=6, size=64)
    before = snapshot(data)["files"]
    crashed = _crash_overwrite(tmp_path / "set" / "labelme", data)
    assert crashed.returncode == -9 and not data.exists()
    checked = run_cli("check", "data", data / "annotations" / "train.json", "--images", data / "images")
    assert checked.exit_code == 0 and "restored" in checked.stderr, checked.stderr
    assert snapshot(data)["files"] == before
