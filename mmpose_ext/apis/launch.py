"""Device choice and multi-process launch for ``mmpx train`` / ``mmpx test`` (see docs/guides/training.md).

- :func:`hide_cuda` / :func:`use_device`: ``--device cpu|cuda``;
- :func:`check_launch`, :func:`torchrun_argv`, :func:`spawn`: ``--nproc`` / ``--nnodes`` through torchrun, each
  process running ``python -m mmpx <command> ... --launcher pytorch``;
- :func:`setup_distributed`: what a process started by torchrun or srun sets before the Runner is built.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from mmpx.errors import MmpxError

DEVICES = ("cpu", "cuda")


def hide_cuda() -> None:
    """Make CUDA invisible to this process and the ones it starts (``--device cpu``).

    mmengine picks its device once, at import, from ``torch.cuda.is_available()`` (``mmengine.device.DEVICE``),
    and the CUDA driver reads ``CUDA_VISIBLE_DEVICES`` the first time it is asked. Hiding the GPUs before that
    keeps every place that asks (the Runner's ``model.to(get_device())``, DDP, AMP, the logger's memory column)
    on the CPU, with no patching; torchrun's children inherit it. The CLI calls this before importing mmengine.
    """
    os.environ["CUDA_VISIBLE_DEVICES"] = ""


def use_device(device: str | None, nproc: int = 1) -> str:
    """Resolve ``--device`` (``None``: cuda when available, else cpu) and apply it; returns ``cpu`` or ``cuda``.

    Raises:
        MmpxError: an unknown device, ``cuda`` without a usable GPU, or more processes than GPUs.
    """
    if device is not None and device not in DEVICES:
        raise MmpxError(f"--device {device!r} is not one of {', '.join(DEVICES)}", "use --device cpu or --device cuda")
    if device == "cpu":
        hide_cuda()
    import torch

    available = torch.cuda.is_available()
    if device is None:
        device = "cuda" if available else "cpu"
    if device == "cuda":
        if not available:
            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise MmpxError(
                f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA device",
                "use --device cpu; for a GPU, install a CUDA torch (MMPX_TORCH_INDEX_URL=https://download.pytorch"
                ".org/whl/cu128 make setup) and check `nvidia-smi` and CUDA_VISIBLE_DEVICES",
            )
        if nproc > torch.cuda.device_count():
            raise MmpxError(
                f"--nproc {nproc} with --device cuda, but only {torch.cuda.device_count()} GPU(s) are visible",
                "one process per GPU: lower --nproc, or use --device cpu",
            )
    else:
        import mmengine.device.utils as mm_device

        # in-process callers may have imported mmengine (which looked at CUDA) before asking for the CPU
        mm_device.DEVICE = "cpu"
    return device


def port_is_free(port: int, host: str = "") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("", 0))
        return sock.getsockname()[1]


def check_launch(
    nproc: int, nnodes: int, node_rank: int, master_addr: str | None, master_port: int | None, launcher: str
) -> None:
    """Reject option combinations that cannot start (before anything is spawned)."""
    if nproc < 1:
        raise MmpxError(f"--nproc {nproc}: the number of processes must be at least 1", "e.g. --nproc 2")
    if nnodes < 1:
        raise MmpxError(f"--nnodes {nnodes}: the number of machines must be at least 1", "e.g. --nnodes 2")
    if not 0 <= node_rank < nnodes:
        raise MmpxError(
            f"--node-rank {node_rank} with --nnodes {nnodes}: the node rank must be 0 to {nnodes - 1}",
            "give each machine its own rank; the one with rank 0 hosts the rendezvous (--master-addr)",
        )
    if nnodes > 1 and not master_addr:
        raise MmpxError(
            f"--nnodes {nnodes} needs --master-addr (the address of the node with --node-rank 0)",
            "e.g. --master-addr 10.0.0.1 --master-port 29500 on every node",
        )
    if master_port is not None and not 1 <= master_port <= 65535:
        raise MmpxError(f"--master-port {master_port} is not a TCP port", "use a free port in 1024..65535")
    if (nproc > 1 or nnodes > 1) and launcher != "none":
        raise MmpxError(
            f"--nproc/--nnodes start the processes themselves; --launcher {launcher} is for processes someone "
            "else started (torchrun, srun)",
            "drop --launcher, or start the processes yourself and drop --nproc/--nnodes",
        )
    if master_port is not None and node_rank == 0 and (nproc > 1 or nnodes > 1) and not port_is_free(master_port):
        raise MmpxError(f"--master-port {master_port} is already in use on this machine", "pick another port")


def torchrun_argv(
    command: list[str], nproc: int, nnodes: int = 1, node_rank: int = 0, master_addr: str | None = None,
    master_port: int | None = None,
) -> list[str]:  # fmt: skip
    """``python -m torch.distributed.run ... -m mmpx COMMAND... --launcher pytorch`` (static rendezvous)."""
    if nnodes == 1:
        master_addr = master_addr or "127.0.0.1"
        master_port = master_port or free_port()  # several jobs on one machine must not share 29500
    return [
        sys.executable, "-m", "torch.distributed.run",
        f"--nproc-per-node={nproc}", f"--nnodes={nnodes}", f"--node-rank={node_rank}",
        f"--master-addr={master_addr}", f"--master-port={master_port or 29500}",
        "-m", "mmpx", *command, "--launcher", "pytorch",
    ]  # fmt: skip


def spawn(argv: list[str], what: str, env: dict | None = None) -> None:
    """Run the torchrun command line, its output going straight to ours; a failure is one clear error."""
    from mmpx.runtime.lifetime import preexec
    from mmpx.runtime.threads import current, environment, split

    # the free cores shared between the children (torchrun would set 1 thread each, with a warning per process;
    # N processes x N threads thrash); the children keep this choice (mmpx.runtime.threads.apply_env)
    nproc = next((int(a.split("=", 1)[1]) for a in argv if a.startswith("--nproc-per-node=")), 1)
    env = {**os.environ, **environment(split(current(), nproc)), **(env or {})}
    try:  # torchrun dies with this process (a SIGKILLed mmpx must leave nothing), and its children with it
        code = subprocess.call(argv, env=env, preexec_fn=preexec)
    except KeyboardInterrupt:
        raise MmpxError(f"{what}: interrupted", None) from None
    if code != 0:
        raise MmpxError(
            f"{what}: a process exited with code {code} (command: {' '.join(argv)})",
            "the first error above is the cause; rank 0's log is in the work dir",
        )


def setup_distributed(cfg, launcher: str, device: str, master_port: int | None = None) -> None:
    """Settings for a process started by torchrun or srun, before the Runner is built.

    ``cfg.env_cfg.dist_cfg.backend`` becomes gloo on the CPU and nccl on GPUs. mmengine's ``init_dist`` calls
    ``torch.cuda.set_device(local_rank)`` whatever the device, which fails without CUDA, so on the CPU the process
    group is started by :func:`init_cpu_process_group` (the Runner then finds it and skips ``init_dist``), and DDP
    gets ``device_ids=None``
    (the Runner would pass ``[LOCAL_RANK]``, which DDP refuses for a CPU module).
    """
    if launcher == "none":
        return
    if launcher == "pytorch":  # a torchrun child: ends with its torchrun, which ends with mmpx (spawn)
        from mmpx.runtime.lifetime import die_with_parent

        die_with_parent()
    backend = "gloo" if device == "cpu" else "nccl"
    env_cfg = cfg.setdefault("env_cfg", {})
    dist_cfg = env_cfg.setdefault("dist_cfg", {})
    dist_cfg["backend"] = backend
    if master_port is not None and launcher == "slurm":
        dist_cfg["port"] = master_port  # mmengine's _init_dist_slurm(port=...) exports MASTER_PORT
    if device != "cpu":
        return
    wrapper = cfg.get("model_wrapper_cfg") or {"type": "MMDistributedDataParallel"}
    if wrapper.get("type") in ("MMDistributedDataParallel", "DistributedDataParallel"):
        cfg.model_wrapper_cfg = {**wrapper, "device_ids": None}
    if launcher not in ("pytorch", "slurm"):
        raise MmpxError(f"--launcher {launcher} with --device cpu is not supported", "use --launcher pytorch or slurm")


def init_cpu_process_group(cfg) -> None:
    """Start the gloo process group for a CPU run (called right before the Runner is built; see above)."""
    import torch
    import torch.distributed as dist

    launcher = cfg.get("launcher", "none")
    dist_cfg = (cfg.get("env_cfg") or {}).get("dist_cfg") or {}
    if launcher == "none" or dist_cfg.get("backend") != "gloo" or torch.cuda.is_available() or dist.is_initialized():
        return  # mmengine's init_dist does it (GPUs), or nothing to do
    if launcher == "slurm":
        _slurm_env(dist_cfg.get("port"))
    import datetime

    timeout = dist_cfg.get("timeout")
    dist.init_process_group(backend="gloo", **({"timeout": datetime.timedelta(seconds=timeout)} if timeout else {}))


def _slurm_env(port: int | None) -> None:
    """The environment mmengine's ``_init_dist_slurm`` derives from srun's SLURM_* variables (env:// init)."""
    missing = [v for v in ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_NODELIST") if v not in os.environ]
    if missing:
        raise MmpxError(
            f"--launcher slurm: {', '.join(missing)} not set (this process was not started by srun)",
            "run it under srun (see docs/guides/training.md), or use --nproc N",
        )
    if "MASTER_ADDR" not in os.environ:
        nodes = os.environ["SLURM_NODELIST"]
        try:  # the first host of the allocation, as mmengine does
            hosts = subprocess.run(["scontrol", "show", "hostnames", nodes], capture_output=True, text=True).stdout
        except OSError:
            hosts = ""
        os.environ["MASTER_ADDR"] = (hosts.split() or [nodes])[0]
    if port is not None:
        os.environ["MASTER_PORT"] = str(port)
    os.environ.setdefault("MASTER_PORT", "29500")
    os.environ["WORLD_SIZE"] = os.environ["SLURM_NTASKS"]
    os.environ["RANK"] = os.environ["SLURM_PROCID"]
    os.environ["LOCAL_RANK"] = os.environ.get("SLURM_LOCALID", "0")


def finish_distributed() -> None:
    """Wait for every rank, then close the process group: a process that exits with gloo's threads still up can
    abort (``terminate called without an active exception``, SIGABRT) while its peer is still shutting down."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def exit_launched_process(code: int = 0) -> None:
    """End a process that torchrun or srun started, once its work is done and written.

    Even after :func:`finish_distributed`, gloo's C++ threads can be torn down in the wrong order while the
    interpreter exits (``terminate called without an active exception``, SIGABRT, about one run in ten here), and
    torchrun then reports the whole job as failed. Logs and streams are flushed first; then the process leaves
    without running C++ static destructors.
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or broken stream must not turn success into a failure
            pass
    os._exit(code)


def summary(runner, config) -> str:
    """One line about a finished training run; every rank must call it (it gathers each rank's iterations)."""
    from pathlib import Path

    from mmengine.dist import all_gather_object

    iters = all_gather_object(runner.iter) if runner.distributed else [runner.iter]
    last = Path(runner.work_dir) / "last_checkpoint"
    ckpt = Path(last.read_text().strip()).name if last.is_file() else "none"
    ranks = f", iterations per rank: {', '.join(map(str, iters))}" if len(iters) > 1 else ""
    return (
        f"trained {config}: {runner.epoch} epoch(s), {runner.iter} iteration(s) on {runner.world_size} "
        f"process(es) (world size {runner.world_size}{ranks}); checkpoints in {runner.work_dir} (last: {ckpt})"
    )
