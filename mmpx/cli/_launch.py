"""The launch options of ``mmpx train`` and ``mmpx test`` (``--device``, ``--launcher``, ``--nproc``, ``--nnodes``,
``--node-rank``, ``--master-addr``, ``--master-port``), spelled once and gathered into one
:class:`~mmpx.app.launch.LaunchOptions`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from mmpx.app.launch import LaunchOptions


class Launcher(StrEnum):
    none = "none"
    pytorch = "pytorch"
    slurm = "slurm"
    mpi = "mpi"


class Device(StrEnum):
    cpu = "cpu"
    cuda = "cuda"


DeviceOpt = Annotated[
    Device | None,
    typer.Option(
        "--device", help="Run on the CPU or on CUDA GPUs (default: cuda when a GPU is visible, else cpu).",
        show_default=False,
    ),
]  # fmt: skip
LauncherOpt = Annotated[
    Launcher,
    typer.Option(
        "--launcher",
        help="Set when this process is one of several started by someone else: pytorch (torchrun) or slurm (srun). "
        "--nproc/--nnodes start them for you.",
    ),
]
NprocOpt = Annotated[
    int, typer.Option("--nproc", help="Processes on this machine (one per GPU with --device cuda), via torchrun.")
]
NnodesOpt = Annotated[int, typer.Option("--nnodes", help="Machines taking part; run the command on each.")]
NodeRankOpt = Annotated[int, typer.Option("--node-rank", help="This machine's rank, 0 to --nnodes - 1.")]
MasterAddrOpt = Annotated[
    str | None,
    typer.Option("--master-addr", help="Address of the --node-rank 0 machine (needed with --nnodes > 1).",
                 show_default=False),
]  # fmt: skip
MasterPortOpt = Annotated[
    int | None,
    typer.Option(
        "--master-port",
        help="Rendezvous port (default: a free one on a single machine, 29500 across machines and under slurm).",
        show_default=False,
    ),
]


def launch_options(device: Device | None, launcher: Launcher, nproc: int, nnodes: int, node_rank: int,
                   master_addr: str | None, master_port: int | None) -> LaunchOptions:
    """The seven options as one :class:`LaunchOptions` (plain strings for the enums)."""
    return LaunchOptions(device=device.value if device else None, launcher=launcher.value, nproc=nproc,
                         nnodes=nnodes, node_rank=node_rank, master_addr=master_addr, master_port=master_port)


def bare_resume(argv: list[str]) -> list[str]:
    """``argv`` of ``mmpx train`` with a bare ``--resume`` (at the end, or before another option) made
    ``--resume auto``, as MMPose's ``tools/train.py`` reads it; click options cannot take an optional value."""
    out = list(argv)
    for i in range(len(out) - 1, -1, -1):  # from the end, so inserting keeps the earlier indices right
        if out[i] == "--resume" and (i + 1 == len(out) or out[i + 1].startswith("-")):
            out.insert(i + 1, "auto")
    return out


__all__ = ["Device", "DeviceOpt", "Launcher", "LauncherOpt", "MasterAddrOpt", "MasterPortOpt", "NnodesOpt",
           "NodeRankOpt", "NprocOpt", "bare_resume", "launch_options"]
