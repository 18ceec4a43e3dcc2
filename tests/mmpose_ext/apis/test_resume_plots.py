"""Runs survive kills: atomic checkpoints, resume past a truncated checkpoint, and PNG plots of a run."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import mmpose_ext  # noqa: F401  (applies the fixes under test, registers PlotHook)
from mmpose_ext.apis.resume import checkpoint_problem, latest_good_checkpoint
from mmpose_ext.engine import atomic_checkpoint
from mmpx import atomic
from mmpx.evaluation.plots import plot_run, read_scalars
from tests.helpers import make_tiny_coco, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
PNG = b"\x89PNG\r\n\x1a\n"


def _config_with_plots(path: Path, data_root: Path, max_epochs: int) -> Path:
    write_tiny_config(path, data_root, max_epochs=max_epochs)
    with path.open("a") as f:
        f.write("custom_hooks = [dict(type='PlotHook')]\n")
    return path


@pytest.fixture(scope="module")
def run2(tmp_path_factory, tiny_coco):
    """A real 2-epoch `mmpx train` run with PlotHook."""
    root = tmp_path_factory.mktemp("run2")
    config = _config_with_plots(root / "tiny.py", tiny_coco, max_epochs=2)
    result = mmpx("train", str(config), "--work-dir", str(root / "work"), env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    return config, root / "work"


# -- atomic checkpoints -----------------------------------------------------------------------------------------


def test_hook_swaps_every_lookup_only_while_saving():
    """Importing mmpose-ext patches nothing; inside the hook's save every writer is atomic, then put back."""
    import mmengine.runner
    import mmengine.runner.checkpoint
    import mmengine.runner.runner
    from mmengine.hooks import checkpoint_hook

    modules = (mmengine.runner, mmengine.runner.checkpoint, mmengine.runner.runner)
    originals = [m.save_checkpoint for m in modules]
    assert all(f.__module__ == "mmengine.runner.checkpoint" for f in originals)
    assert "open" not in vars(checkpoint_hook)  # the builtin
    with atomic_checkpoint.atomic_saving():
        for module, original in zip(modules, originals, strict=True):
            assert module.save_checkpoint is not original and module.save_checkpoint.__wrapped__ is original
        assert checkpoint_hook.open is atomic_checkpoint._hook_open
    assert [m.save_checkpoint for m in modules] == originals and "open" not in vars(checkpoint_hook)


def test_interrupted_save_leaves_previous_checkpoint_and_pointer(tmp_path, monkeypatch):
    import mmengine.runner.runner
    from mmengine.hooks import checkpoint_hook

    ckpt = tmp_path / "epoch_1.pth"
    pointer = tmp_path / "last_checkpoint"
    with atomic_checkpoint.atomic_saving():
        mmengine.runner.runner.save_checkpoint({"meta": {"epoch": 1}, "state_dict": {"w": torch.ones(3)}}, str(ckpt))
        with checkpoint_hook.open(str(pointer), "w") as f:
            f.write(str(ckpt))
    before = ckpt.read_bytes(), pointer.read_text()

    def save_half_then_die(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04" + b"\0" * 4096)  # part of an archive is on disk...
        raise KeyboardInterrupt("killed while saving")  # ...when the process is stopped

    monkeypatch.setattr(torch, "save", save_half_then_die)
    with atomic_checkpoint.atomic_saving():
        with pytest.raises(KeyboardInterrupt):
            mmengine.runner.runner.save_checkpoint({"meta": {"epoch": 2}}, str(ckpt))
        with pytest.raises(RuntimeError):
            with checkpoint_hook.open(str(pointer), "w") as f:
                f.write(str(tmp_path / "epoch_2"))
                raise RuntimeError("killed while writing last_checkpoint")

    assert (ckpt.read_bytes(), pointer.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_1.pth", "last_checkpoint"]  # no temp file left
    assert checkpoint_problem(ckpt) is None


def test_checkpoint_hook_writes_pointer_atomically(run2, monkeypatch):
    """`mmpx train` ran AtomicCheckpointHook; its saves went through the atomic writer and left no temp files."""
    _, work = run2
    assert (work / "last_checkpoint").read_text().strip() == str(work / "epoch_2.pth")
    assert not list(work.glob(atomic.TMP_PREFIX + "*"))
    log = next(work.glob("*/*.log")).read_text()
    assert "AtomicCheckpointHook" in log and "(VERY_LOW    ) CheckpointHook" not in log
    opened = []
    real = atomic_checkpoint.atomic_open
    monkeypatch.setattr(atomic_checkpoint, "atomic_open", lambda *a, **k: opened.append(a[0]) or real(*a, **k))
    from mmengine.hooks import checkpoint_hook

    with atomic_checkpoint.atomic_saving():
        with checkpoint_hook.open(str(work / "last_checkpoint"), "w") as f:
            f.write(str(work / "epoch_2.pth"))
        with checkpoint_hook.open(str(work / "tiny.py")) as f:  # everything else: the builtin open
            assert "PlotHook" in f.read()
    assert opened == [str(work / "last_checkpoint")]


def test_config_can_name_the_hook_and_other_hooks_are_kept():
    from mmengine.config import Config

    cfg = Config(dict(default_hooks=dict(checkpoint=dict(type="CheckpointHook", interval=2, max_keep_ckpts=1))))
    assert atomic_checkpoint.use_atomic_checkpoints(cfg)
    # _scope_: found from a detector config (default scope mmdet) too
    assert cfg.default_hooks.checkpoint == dict(type="AtomicCheckpointHook", interval=2, max_keep_ckpts=1,
                                                _scope_="mmpose")
    mine = Config(dict(default_hooks=dict(checkpoint=dict(type="MyCheckpointHook"))))
    assert not atomic_checkpoint.use_atomic_checkpoints(mine)
    assert mine.default_hooks.checkpoint.type == "MyCheckpointHook"
    from mmpose_ext.registry import HOOKS

    hook = HOOKS.build(dict(type="AtomicCheckpointHook", interval=3))
    assert type(hook).__name__ == "AtomicCheckpointHook" and hook.interval == 3


# -- resume after SIGKILL, and past a truncated checkpoint ------------------------------------------------------


def test_sigkill_then_resume_auto_finishes(tmp_path):
    data = tmp_path / "data"
    make_tiny_coco(data, num_images=45)  # 15 iterations an epoch: a few seconds of training in all
    config = write_tiny_config(tmp_path / "tiny.py", data, max_epochs=6)
    work = tmp_path / "work"
    args = [sys.executable, "-m", "mmpx", "train", str(config), "--work-dir", str(work)]
    args += ["--cfg-options", "train_cfg.max_epochs=6"]
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(args, env={**os.environ, **ENV}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not (work / "epoch_1.pth").exists():
            assert proc.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    assert not (work / "epoch_6.pth").exists(), "the run finished before it was killed"
    for ckpt in work.glob("epoch_*.pth"):  # whatever the kill interrupted, no checkpoint is half-written
        assert checkpoint_problem(ckpt) is None, ckpt

    result = mmpx("train", str(config), "--work-dir", str(work), "--resume", "auto", env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (work / "epoch_6.pth").is_file()
    out = result.stdout + result.stderr
    resumed = re.search(r"resumed epoch: (\d+), iter: (\d+)", out)
    assert resumed and int(resumed.group(1)) >= 1, out[-3000:]
    # as docs/guides/runs.md says
    assert f"Auto resumed from the latest checkpoint {work}/epoch_{resumed.group(1)}.pth" in out
    assert not list(work.glob(atomic.TMP_PREFIX + "*"))


def test_truncated_latest_falls_back_to_previous(run2, tmp_path, caplog):
    config, work = run2
    copy = tmp_path / "work"
    shutil.copytree(work, copy)
    newest, previous = copy / "epoch_2.pth", copy / "epoch_1.pth"
    (copy / "last_checkpoint").write_text(str(newest))
    assert latest_good_checkpoint(copy) == str(newest)  # intact: the one last_checkpoint names
    with newest.open("r+b") as f:
        f.truncate(newest.stat().st_size // 2)
    assert checkpoint_problem(newest) is not None

    with caplog.at_level(logging.WARNING, logger="mmpose_ext.apis.resume"):
        chosen = latest_good_checkpoint(copy)
    assert chosen == str(previous)
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    assert str(newest) in warning and str(previous) in warning

    # and `mmpx train --resume auto` resumes from it, saying which file it skipped
    result = mmpx("train", str(config), "--work-dir", str(copy), "--resume", "auto",
                  "--cfg-options", "train_cfg.max_epochs=3", env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert f"skipping damaged checkpoint {newest}" in log and "resumed epoch: 1" in log
    assert (copy / "epoch_3.pth").is_file() and checkpoint_problem(copy / "epoch_3.pth") is None
    assert (copy / "last_checkpoint").read_text().strip() == str(copy / "epoch_3.pth")


def test_no_pointer_and_nothing_intact(tmp_path, caplog):
    assert latest_good_checkpoint(tmp_path) is None
    assert latest_good_checkpoint(tmp_path / "absent") is None
    (tmp_path / "epoch_1.pth").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "last_checkpoint").write_text("")
    with caplog.at_level(logging.WARNING, logger="mmpose_ext.apis.resume"):
        assert latest_good_checkpoint(tmp_path) is None
    assert "epoch_1.pth" in caplog.text


# -- plots ------------------------------------------------------------------------------------------------------


def test_plot_hook_and_plot_run(run2, tmp_path):
    _, work = run2
    for name in ("loss.png", "val.png"):  # PlotHook wrote them at the end of the run
        assert (work / name).read_bytes()[:8] == PNG

    written = plot_run(work, out_dir=tmp_path)
    assert sorted(p.name for p in written) == ["loss.png", "val.png"]
    for path in written:
        assert path.stat().st_size > 1000 and path.read_bytes()[:8] == PNG

    scalars = read_scalars(work)
    assert scalars.val_x == "epoch"
    assert scalars.val["coco/AP"][0] == [1, 2]  # validation lines have no epoch: mapped from step
    assert {"loss", "loss_kpt"} <= set(scalars.train)
    assert scalars.train["loss"][0] == [1, 2, 3, 4]  # 6 images, batch 3: 2 iterations an epoch


def test_resumed_run_merges_timestamps(tmp_path):
    """Two starts: the second (resumed at epoch 2) supersedes what the killed first logged from there on."""
    import json

    def write(stamp, rows):
        folder = tmp_path / stamp / "vis_data"
        folder.mkdir(parents=True)
        (folder / "scalars.json").write_text("\n".join(json.dumps(r) for r in rows) + '\n{"trunc')

    write(
        "20260101_000000",
        [
            dict(loss=1.0, epoch=1, iter=1, step=1),
            dict(loss=0.9, epoch=1, iter=2, step=2),
            {"m/AP": 0.1, "step": 1},
            dict(loss=0.8, epoch=2, iter=3, step=3),
            {"m/AP": 0.2, "step": 2},
            dict(loss=0.7, epoch=3, iter=5, step=5),
        ],
    )
    write("20260101_010000", [dict(loss=0.75, epoch=3, iter=5, step=5), {"m/AP": 0.3, "step": 3}])
    scalars = read_scalars(tmp_path)
    assert scalars.train["loss"] == ([1, 2, 3, 5], [1.0, 0.9, 0.8, 0.75])
    assert scalars.val["m/AP"] == ([1, 2, 3], [0.1, 0.2, 0.3])
    assert [p.name for p in plot_run(tmp_path, keys=["m/AP"])] == ["val.png"]


def test_resume_auto_with_only_a_damaged_checkpoint_starts_from_scratch(tmp_path, tiny_coco):
    """last_checkpoint names a truncated file and nothing else is intact: the warning says "from scratch", and the
    run does start from scratch (mmengine used to follow the pointer anyway and fail)."""
    config = write_tiny_config(tmp_path / "tiny.py", tiny_coco, max_epochs=1)
    work = tmp_path / "work"
    work.mkdir()
    (work / "epoch_1.pth").write_bytes(b"PK\x03\x04" + b"\0" * 100)  # what a kill while saving leaves
    (work / "last_checkpoint").write_text(str(work / "epoch_1.pth"))
    result = mmpx("train", str(config), "--work-dir", str(work), "--resume", "auto", env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "starting from scratch" in result.stdout + result.stderr
    assert checkpoint_problem(work / "epoch_1.pth") is None  # trained and saved anew
