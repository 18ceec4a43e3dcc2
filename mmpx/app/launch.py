"""How ``mmpx train`` and ``mmpx test`` start: the device, the launch options checked once, and with
``--nproc``/``--nnodes`` the same command re-run under torchrun (``python -m torch.distributed.run ... -m mmpx
train ... --launcher pytorch``) after this process checked everything (preflight); see docs/guides/training.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

# What the parent consumes: the children get the rest of the command line as the user typed it.
_LAUNCH_VALUES = ("--nproc", "--nnodes", "--node-rank", "--master-addr", "--master-port", "--device", "--launcher")
_LAUNCH_FLAGS = ("--no-preflight", "--progress", "--no-progress")


@dataclass(frozen=True)
class LaunchOptions:
    """Where a train or test runs and how many processes run it (``--device``, ``--launcher``, ``--nproc``,
    ``--nnodes``, ``--node-rank``, ``--master-addr``, ``--master-port``).

    Attributes:
        device: ``cpu``, ``cuda``, or None for cuda when a GPU is visible.
        launcher: ``none``, or the launcher that started this process (``pytorch``, ``slurm``, ``mpi``).
        nproc, nnodes, node_rank, master_addr, master_port: the torchrun processes to start, on how many
            machines, this machine's rank, and where they meet.
    """

    device: str | None = None
    launcher: str = "none"
    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None
    master_port: int | None = None

    @property
    def spawns(self) -> bool:
        """This process starts torchrun's processes instead of running the work itself."""
        return self.nproc > 1 or self.nnodes > 1

    @property
    def launched(self) -> bool:
        """This process is one of torchrun's or srun's."""
        return self.launcher != "none"

    def rendezvous(self) -> dict:
        """The torchrun arguments: nproc, nnodes, node_rank, master_addr, master_port."""
        return dict(nproc=self.nproc, nnodes=self.nnodes, node_rank=self.node_rank, master_addr=self.master_addr,
                    master_port=self.master_port)

    def setup(self) -> str:
        """Apply ``device`` (before the library is imported), check the launch options; the device in use."""
        early_device(self.device)
        from mmpose_ext.apis.launch import check_launch, use_device

        check_launch(**self.rendezvous(), launcher=self.launcher)
        return use_device(self.device, self.nproc)

    def leave(self) -> None:
        """End a process torchrun or srun started, before gloo's teardown can abort it; nothing otherwise."""
        if self.launched:
            from mmpose_ext.apis.launch import exit_launched_process

            exit_launched_process(0)


def early_device(device: str | None) -> None:
    """``--device`` before mmpose_ext (mmengine, mmpose: seconds of imports) is imported.

    cpu: mmengine picks its device at import from torch.cuda.is_available(), and CUDA reads CUDA_VISIBLE_DEVICES
    once, so the GPUs are hidden first (mmpose_ext.apis.launch.hide_cuda, which cannot be imported without
    mmengine). cuda: fail at once when torch has none; use_device() then checks the GPU count.
    """
    if device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    elif device == "cuda":
        import torch

        if not torch.cuda.is_available():
            from mmpx.errors import MmpxError

            build = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}"
            raise MmpxError(
                f"--device cuda: torch {torch.__version__} ({build}) sees no CUDA device",
                "use --device cpu; for a GPU, install a CUDA torch (MMPX_TORCH_INDEX_URL=https://download.pytorch"
                ".org/whl/cu128 make setup) and check `nvidia-smi` and CUDA_VISIBLE_DEVICES",
            )


def child_argv(argv: list[str], *extra: str) -> list[str]:
    """The command line a torchrun child runs: ``argv`` less the launch options, plus ``extra``.

    Everything else (every current and future option of train/test) passes through untouched.
    """
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in _LAUNCH_VALUES:
            skip = "=" not in arg
            continue
        if arg in _LAUNCH_FLAGS:
            continue
        out.append(arg)
    return [*out, *extra]


def spawn(argv: list[str], launch: LaunchOptions, device: str, what: str, *extra: str) -> None:
    """Run the command line ``argv`` (as typed, from the command's name on) under torchrun, each child on
    ``device`` and without the preflight this process ran; a failed child is one clear error."""
    from mmpose_ext.apis.launch import spawn as run
    from mmpose_ext.apis.launch import torchrun_argv

    command = child_argv(argv, "--device", device, "--no-preflight", *extra)
    run(torchrun_argv(command, **launch.rendezvous()), what)


__all__ = ["LaunchOptions", "child_argv", "early_device", "spawn"]
