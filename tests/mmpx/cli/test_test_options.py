"""`mmpx test --dump/--show-dir/--out/--nproc/--launcher slurm` on the tiny config, and bad paths."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time
from subprocess import PIPE
from types import SimpleNamespace

import cv2
import pytest
import torch

import mmpose_ext  # noqa: F401  (registers the hooks and metrics)
from mmpose_ext.apis.launch import free_port
from mmpose_ext.apis.prepare import test_config as build_test_config
from mmpx.errors import ConfigError
from tests.helpers import ROOT, mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1"}
IMAGES = [f"{i:03d}" for i in range(6)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_coco):
    """The tiny config and a checkpoint of its freshly initialised model (predictions need no training)."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    root = tmp_path_factory.mktemp("test_options")
    config = write_tiny_config(root / "tiny.py", tiny_coco)
    init_default_scope("mmpose")
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    ckpt = root / "init.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {}}, ckpt)
    return SimpleNamespace(root=root, config=config, ckpt=ckpt)


def _check_outputs(dump, show_dir, out):
    preds = pickle.loads(dump.read_bytes())
    assert isinstance(preds, list) and len(preds) == 6
    assert sorted(p["img_id"] for p in preds) == [1, 2, 3, 4, 5, 6]
    for p in preds:
        assert p["pred_instances"]["keypoints"].shape == (1, 17, 2)
        assert p["pred_instances"]["keypoint_scores"].shape == (1, 17)
    drawn = sorted(os.listdir(show_dir))
    assert drawn == [f"{name}.png" for name in IMAGES]  # one per test image, named as it
    assert all(cv2.imread(str(show_dir / name)).shape == (96, 96, 3) for name in drawn)
    metrics = json.loads(out.read_text())
    assert set(metrics) >= {"coco/AP", "coco/AR"}
    leftovers = [p.name for p in dump.parent.iterdir() if "partial" in p.name]
    assert not leftovers


@pytest.mark.slow
def test_dump_show_dir_out(setup):
    run = setup.root / "single"
    dump, show, out = run / "preds" / "p.pkl", run / "vis", run / "metrics.json"
    result = mmpx(
        "test", str(setup.config), str(setup.ckpt), "--work-dir", str(run / "work"), "--device", "cpu",
        "--dump", str(dump), "--show-dir", str(show), "--out", str(out), env=ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    _check_outputs(dump, show, out)
    assert json.loads(result.stdout[result.stdout.index("{\n") :]) == json.loads(out.read_text())


@pytest.mark.slow
def test_show_dir_draws_every_instance_of_an_image_in_one_picture(setup, tmp_path, tiny_coco):
    """MMPose's hook wrote one file per instance (000005_0.jpg, 000005_1.jpg ...)."""
    import shutil

    import numpy as np

    data = tmp_path / "two"
    shutil.copytree(tiny_coco, data)
    gt = json.loads((data / "annotations.json").read_text())
    second = [dict(a, id=100 + a["id"], bbox=[2.0, 2.0, 20.0, 20.0], area=400.0,
                   keypoints=[v if i % 3 == 2 else 12.0 for i, v in enumerate(a["keypoints"])])
              for a in gt["annotations"]]
    gt["annotations"] += second
    (data / "annotations.json").write_text(json.dumps(gt))
    config = write_tiny_config(tmp_path / "two.py", data)
    show = tmp_path / "vis"
    result = mmpx("test", str(config), str(setup.ckpt), "--work-dir", str(tmp_path / "w"), "--device", "cpu",
                  "--show-dir", str(show), env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(show)) == [f"{name}.png" for name in IMAGES]  # 12 instances, 6 pictures
    for ann in gt["annotations"][:6]:
        name = f"{ann['image_id'] - 1:03d}.png"
        drawn = cv2.imread(str(show / name)).astype(int)
        original = cv2.imread(str(data / "images" / name)).astype(int)
        for x, y, w, _ in (ann["bbox"], [2.0, 2.0, 20.0, 20.0]):  # both boxes' top edges are drawn
            edge = slice(int(x) + 2, int(x + w) - 2)
            assert np.abs(drawn[int(y), edge] - original[int(y), edge]).sum() > 0, (name, x, y)


@pytest.mark.slow
def test_two_processes(setup):
    """torchrun with 2 CPU processes: each rank tests and draws its half; rank 0 writes the dump and metrics. The
    gathering folder a killed earlier test left in the work dir is cleaned, and this run's own are removed."""
    run = setup.root / "ddp"
    dump, show, out = run / "p.pkl", run / "vis", run / "metrics.json"
    left = run / "work" / ".mmpx-tmp-collect-0badc0de"  # unlocked: its rank 0 is gone
    left.mkdir(parents=True)
    (left / "part_1.pkl").write_bytes(b"")
    os.utime(left, (time.time() - 60, time.time() - 60))
    result = mmpx(
        "test", str(setup.config), str(setup.ckpt), "--work-dir", str(run / "work"), "--nproc", "2",
        "--device", "cpu", "--dump", str(dump), "--show-dir", str(show), "--out", str(out), env=ENV, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    _check_outputs(dump, show, out)
    assert result.stdout.count('"coco/AP":') == 1  # rank 0 prints the metrics, rank 1 does not
    logs = list((run / "work").glob("2*/2*.log"))
    assert logs and "Distributed training: True" in logs[0].read_text()
    assert not list((run / "work").glob(".mmpx-tmp-*"))


@pytest.mark.slow
def test_slurm_launcher_two_tasks(setup):
    """What srun does: 2 tasks with SLURM_PROCID/SLURM_NTASKS/SLURM_NODELIST set, `--launcher slurm`."""
    port, run = free_port(), setup.root / "slurm"
    procs = []
    for rank in (0, 1):
        env = {**os.environ, **ENV, "SLURM_PROCID": str(rank), "SLURM_NTASKS": "2", "SLURM_LOCALID": str(rank),
               "SLURM_NODELIST": "localhost"}  # fmt: skip
        for var in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE", "LOCAL_RANK"):
            env.pop(var, None)
        args = [sys.executable, "-m", "mmpx", "test", str(setup.config), str(setup.ckpt), "--device", "cpu",
                "--launcher", "slurm", "--master-port", str(port), "--work-dir", str(run), "--no-preflight"]
        procs.append(subprocess.Popen(args, env=env, cwd=ROOT, stdout=PIPE, stderr=PIPE, text=True))
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs[0][1][-2000:] + outputs[1][1][-2000:]
    assert '"coco/AP":' in outputs[0][0] and '"coco/AP":' not in outputs[1][0]
    log = next(run.glob("2*/2*.log")).read_text()
    assert "Distributed launcher: slurm" in log and "GPU number: 2" in log


# ---- bad inputs ----


def test_bad_paths(setup, tmp_path):
    config, ckpt = setup.config, setup.ckpt
    with pytest.raises(ConfigError, match=r"--dump .*preds\.json: the file must end in \.pkl or \.pickle"):
        build_test_config(config, ckpt, dump=tmp_path / "preds.json")
    (tmp_path / "adir.pkl").mkdir()
    with pytest.raises(ConfigError, match=r"--dump .*adir\.pkl is a folder"):
        build_test_config(config, ckpt, dump=tmp_path / "adir.pkl")
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ConfigError, match=r"--show-dir .*afile exists and is not a folder"):
        build_test_config(config, ckpt, show_dir=tmp_path / "afile")
    with pytest.raises(ConfigError, match=r"checkpoint .*nope\.pth does not exist"):
        build_test_config(config, tmp_path / "nope.pth")
    no_vis = tmp_path / "novis.py"
    no_vis.write_text(config.read_text() + "\ndefault_hooks = dict(visualization=None)\n")
    with pytest.raises(ConfigError, match=r"--show-dir: config .*novis\.py has no default_hooks\.visualization"):
        build_test_config(no_vis, ckpt, show_dir=tmp_path / "vis")
    cfg = build_test_config(config, ckpt, dump=tmp_path / "p.pkl", show_dir=tmp_path / "vis")
    assert cfg.test_evaluator[-1] == dict(type="DumpResults", out_file_path=str(tmp_path / ".mmpx-tmp-p.partial.pkl"))
    assert cfg.default_hooks.visualization.out_dir == str(tmp_path / ".mmpx-tmp-vis.partial")


def test_failed_run_leaves_no_outputs(setup, tmp_path):
    from mmpose_ext.apis import test as run_test

    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    dump, show = tmp_path / "p.pkl", tmp_path / "vis"
    with pytest.raises(Exception, match="bad.pth"):
        run_test(setup.config, bad, work_dir=tmp_path / "w", dump=dump, show_dir=show, device="cpu")
    # no dump, no show dir, no partials, and no work dir: the checkpoint is read before the runner is built
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pth"]
