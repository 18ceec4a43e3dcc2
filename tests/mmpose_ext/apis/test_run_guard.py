"""Training and testing never write over what the config reads, and two trainings never share a work dir.

Before: ``mmpx test --show-dir`` pointed at the dataset's images folder rewrote the val images; two ``mmpx train``
into one work dir both exited 0, and the second run's best-checkpoint cleanup deleted the first run's best file.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from mmpx.atomic.lock import hold, lock_path
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def data(tiny_coco, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(tiny_coco, root)
    return root


def test_test_outputs_pointed_at_the_dataset_are_refused(data, tmp_path):
    config = write_tiny_config(tmp_path / "tiny.py", data, max_epochs=1)
    trained = mmpx("train", str(config), "--work-dir", str(tmp_path / "work"))
    assert trained.returncode == 0, trained.stderr
    ckpt = tmp_path / "work" / "epoch_1.pth"
    before = _snapshot(data)
    for option, path, relation in (("--show-dir", data / "images", "is the config's"),
                                   ("--out", data / "annotations.json", "is the config's")):
        done = mmpx("test", str(config), str(ckpt), option, str(path), "--work-dir", str(tmp_path / "t"))
        assert done.returncode == 1 and f"{option} {path} {relation}" in " ".join(done.stderr.split()), done.stderr
        assert _snapshot(data) == before


def test_a_config_in_its_own_work_dir_is_not_rewritten(data, tmp_path):
    """mmengine copies the config into the work dir under its file name: for a config that lives there, that
    copy would have replaced the user's file (comments and layout) with mmengine's dump."""
    work = tmp_path / "work"
    work.mkdir()
    config = write_tiny_config(work / "tiny.py", data, max_epochs=1)
    config.write_text("# my notes: lr tried 1e-3, 3e-4\n" + config.read_text())
    text = config.read_text()
    done = mmpx("train", str(config), "--work-dir", str(work))
    assert done.returncode == 0, done.stderr
    assert config.read_text() == text and (work / "epoch_1.pth").is_file()


def test_two_trainings_into_one_work_dir(data, tmp_path):
    config = write_tiny_config(tmp_path / "tiny.py", data, max_epochs=40)
    work = tmp_path / "work"
    first = subprocess.Popen([sys.executable, "-m", "mmpx", "train", str(config), "--work-dir", str(work),
                              "--cfg-options", "train_cfg.max_epochs=40"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not lock_path(work).exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert first.poll() is None, first.communicate()[1]
        second = mmpx("train", str(config), "--work-dir", str(work), "--cfg-options", "train_cfg.max_epochs=1")
        assert second.returncode == 1 and f"work dir {work} is in use by another mmpx run (pid {first.pid}" in \
            " ".join(second.stderr.split()), second.stderr
    finally:
        first.kill()
        first.communicate()
    with hold(work, "work dir"):  # the first was killed: its lock went with it
        pass


def test_data_paths_follow_dataset_wrappers():
    from mmengine.config import Config

    from mmpose_ext.apis.guard import data_paths

    inner = [dict(data_root="a", ann_file="x.json", data_prefix=dict(img="imgs/")),
             dict(type="RepeatDataset", dataset=dict(ann_file="/abs/y.json", data_prefix=dict(img="s3://b/")))]
    cfg = Config(dict(train_dataloader=dict(dataset=dict(type="CombinedDataset", datasets=inner)),
                      val_dataloader=dict(dataset=dict(data_root="v", ann_file="val.json"))))
    assert data_paths(cfg) == {"the config's train_dataloader data": ["a/x.json", "a/imgs/", "a", "/abs/y.json"],
                               "the config's val_dataloader data": ["v/val.json", "v"]}
