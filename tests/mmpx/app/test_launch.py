"""`mmpx train --device/--nproc/--nnodes/--progress`: device choice, torchrun launch, progress display."""

from __future__ import annotations

import re
import socket
import sys
from types import SimpleNamespace

import pytest
import torch

from mmpose_ext.apis import launch
from mmpose_ext.compat.checkpoint import load as safe_load
from mmpx.errors import MmpxError
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tiny_coco):
    root = tmp_path_factory.mktemp("launch")
    return SimpleNamespace(root=root, config=write_tiny_config(root / "tiny.py", tiny_coco, max_epochs=2))


def _log(work_dir) -> str:
    logs = sorted(work_dir.glob("2*/2*.log"))
    assert logs, f"no log file under {work_dir}"
    return logs[-1].read_text()


# ---- option checks, in process ----


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(nproc=0), r"--nproc 0: the number of processes must be at least 1"),
        (dict(nnodes=2, node_rank=2, master_addr="10.0.0.1"), r"--node-rank 2 with --nnodes 2: .* 0 to 1"),
        (dict(nnodes=2, node_rank=1), r"--nnodes 2 needs --master-addr"),
        (dict(master_port=70000), r"--master-port 70000 is not a TCP port"),
        (dict(nproc=2, launcher="slurm"), r"--nproc/--nnodes start the processes themselves"),
    ],
)
def test_check_launch_rejects(kwargs, message):
    args = dict(nproc=1, nnodes=1, node_rank=0, master_addr=None, master_port=None, launcher="none") | kwargs
    with pytest.raises(MmpxError, match=message) as info:
        launch.check_launch(**args)
    assert info.value.hint


def test_check_launch_busy_port():
    with socket.socket() as sock:
        sock.bind(("", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(MmpxError, match=f"--master-port {port} is already in use"):
            launch.check_launch(2, 1, 0, None, port, "none")
    launch.check_launch(2, 1, 0, None, port, "none")  # free again: accepted


def test_torchrun_argv_repasses_the_command():
    argv = launch.torchrun_argv(["train", "cfg.py", "--seed=3"], nproc=2)
    assert argv[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=2" in argv and "--nnodes=1" in argv and "--master-addr=127.0.0.1" in argv
    port = int(next(a for a in argv if a.startswith("--master-port=")).split("=")[1])
    assert port != 29500 or launch.port_is_free(29500)  # a free port picked for a single machine
    assert argv[argv.index("-m", 3) :] == ["-m", "mmpx", "train", "cfg.py", "--seed=3", "--launcher", "pytorch"]
    multi = launch.torchrun_argv(["test", "c.py", "k.pth"], 4, nnodes=2, node_rank=1, master_addr="10.1.2.3")
    assert {"--nnodes=2", "--node-rank=1", "--master-addr=10.1.2.3", "--master-port=29500"} <= set(multi)


def test_use_device(monkeypatch):
    import mmengine.device.utils as mm_device

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # restored after the test
    monkeypatch.setattr(mm_device, "DEVICE", mm_device.DEVICE)
    with pytest.raises(MmpxError, match="--device 'tpu' is not one of cpu, cuda"):
        launch.use_device("tpu")
    assert launch.use_device("cpu") == "cpu"
    import os

    assert os.environ["CUDA_VISIBLE_DEVICES"] == "" and mm_device.get_device() == "cpu"
    if not torch.cuda.is_available():
        assert launch.use_device(None) == "cpu"
        with pytest.raises(MmpxError, match="--device cuda: torch .* sees no CUDA device") as info:
            launch.use_device("cuda")
        assert "--device cpu" in info.value.hint


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_device_cuda_fails_early_without_gpu(tiny):
    work = tiny.root / "cuda"
    result = mmpx("train", str(tiny.config), "--work-dir", str(work), "--device", "cuda", env=ENV)
    assert result.returncode == 1
    assert "error: --device cuda: torch" in result.stderr and "hint: use --device cpu" in result.stderr
    assert not work.exists()  # nothing built


def test_setup_distributed_cpu_settings(tiny):
    from mmpose_ext.config import load_config

    cfg = load_config(tiny.config)
    launch.setup_distributed(cfg, "none", "cpu")
    assert cfg.get("model_wrapper_cfg") is None  # a single process: untouched
    cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", find_unused_parameters=True)
    cfg.launcher = "slurm"
    launch.setup_distributed(cfg, "slurm", "cpu", master_port=29511)
    assert cfg.env_cfg.dist_cfg.backend == "gloo" and cfg.env_cfg.dist_cfg.port == 29511
    if not torch.cuda.is_available():  # outside srun: a clear error before any rendezvous
        with pytest.raises(MmpxError, match="--launcher slurm: SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST not set"):
            launch.init_cpu_process_group(cfg)
    assert cfg.model_wrapper_cfg == dict(type="MMDistributedDataParallel", find_unused_parameters=True, device_ids=None)
    cfg = load_config(tiny.config)
    launch.setup_distributed(cfg, "pytorch", "cuda")
    assert cfg.env_cfg.dist_cfg.backend == "nccl" and cfg.get("model_wrapper_cfg") is None


# ---- real runs ----


@pytest.mark.slow
def test_train_device_cpu_without_progress(tiny):
    work = tiny.root / "cpu"
    result = mmpx("train", str(tiny.config), "--work-dir", str(work), "--device", "cpu", "--no-progress", env=ENV)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "epoch 2/2 iter" not in result.stderr + result.stdout  # progress forced off
    assert re.search(r"Epoch\(train\)\s+\[2\]\[2/2\]", result.stdout)  # the usual log lines
    assert "(world size 1)" in result.stdout and "(last: epoch_2.pth)" in result.stdout
    assert "Distributed training: False" in _log(work)


@pytest.mark.slow
def test_train_two_processes(tiny):
    """A real 2-process CPU run through torchrun (gloo), progress forced on: rank 0 alone prints. The ranks gather
    their validation results in the work dir (mmengine alone would make ``.dist_test/`` where the user stands)."""
    work, here = tiny.root / "ddp", tiny.root / "user_folder"
    here.mkdir()
    result = mmpx(
        "train", str(tiny.config), "--work-dir", str(work), "--nproc", "2", "--device", "cpu", "--progress",
        "--seed", "1", env=ENV, timeout=120, cwd=here,
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    # 6 images, batch 3, 2 ranks: each rank runs 1 iteration per epoch (3 in one process would be 2)
    assert "world size 2, iterations per rank: 2, 2" in result.stdout
    assert out.count("trained ") == 1  # the summary, from rank 0 only
    assert re.findall(r"^epoch (\d)/2 iter (\d)/2 loss [0-9.e-]+ eta", result.stderr, re.M) == [("1", "1"), ("2", "2")]
    log = _log(work)
    assert "Distributed launcher: pytorch" in log and "Distributed training: True" in log and "GPU number: 2" in log
    assert "dist_cfg: {'backend': 'gloo'}" in log
    for epoch in (1, 2):
        ckpt = safe_load(str(work / f"epoch_{epoch}.pth"), map_location="cpu")
        assert ckpt["meta"]["epoch"] == epoch and ckpt["meta"]["iter"] == epoch  # 1 iteration per epoch per rank
        assert not any(k.startswith("module.") for k in ckpt["state_dict"])  # DDP's wrapper is not saved
        assert ckpt["state_dict"]["head.final_layer.weight"].shape == (17, 64, 1, 1)
    assert (work / "last_checkpoint").read_text().strip().endswith("epoch_2.pth")
    assert list(here.iterdir()) == []  # nothing where the command was started
    assert not list(work.glob(".mmpx-tmp-collect-*"))  # each gathering's folder removed once read
