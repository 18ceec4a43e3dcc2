"""CPU work under :mod:`mmpx.runtime.threads`' policy, and data-loader workers that end with their parent.

The policy's thread counts are applied to torch here (the core never imports torch); its wait policy had to be in
the environment before torch was imported (``mmpx`` and ``mmpx.api`` put it there). Loader workers get a
``worker_init_fn`` that first binds them to the training process (``prctl(PR_SET_PDEATHSIG)``) and then runs the
one mmengine would have run (its seeding), so a SIGKILLed run leaves no worker behind.
"""

from __future__ import annotations

import os

from mmpx.runtime.lifetime import die_with_parent
from mmpx.runtime.threads import ThreadPolicy, current


def apply_to_torch(policy: ThreadPolicy | None = None) -> ThreadPolicy:
    """Set torch's intra-op and inter-op thread counts from ``policy`` (default: the one in force)."""
    import torch

    policy = policy or current()
    if torch.get_num_threads() != policy.threads:
        torch.set_num_threads(policy.threads)
    try:
        torch.set_num_interop_threads(policy.interop)
    except RuntimeError:  # only settable before the first inter-op work; then it stays as it is
        pass
    return policy


def torch_threads() -> str:
    """What torch runs with now, for the run's header: ``2 threads, passive waiting (auto: 2 cores, load 0.31)``.
    The waiting is what OpenMP read at torch's import, from the environment."""
    import torch

    wait = os.environ.get("OMP_WAIT_POLICY", "").lower() or "active (OpenMP's default)"
    count = torch.get_num_threads()
    return f"{count} thread{'s' if count != 1 else ''}, {wait} waiting ({current().reason()})"


class WorkerInit:
    """A loader's ``worker_init_fn``: the worker dies with the process that started it, then ``inner`` runs
    (mmengine's seeding one, or the config's). A class, not a closure, so it pickles for spawned workers."""

    def __init__(self, inner=None, parent: int | None = None) -> None:
        self.inner = inner
        self.parent = parent if parent is not None else os.getpid()

    def __call__(self, worker_id: int) -> None:
        die_with_parent(self.parent)
        if self.inner is not None:
            self.inner(worker_id)


def bind_loader_workers(runner) -> None:
    """Every loader ``runner`` builds from now on (train, val, test: built lazily) gets a :class:`WorkerInit`."""
    build = runner.build_dataloader

    def build_dataloader(*args, **kwargs):
        loader = build(*args, **kwargs)
        if getattr(loader, "num_workers", 0) and not isinstance(loader.worker_init_fn, WorkerInit):
            loader.worker_init_fn = WorkerInit(loader.worker_init_fn)
        return loader

    runner.build_dataloader = build_dataloader


__all__ = ["WorkerInit", "apply_to_torch", "bind_loader_workers", "torch_threads"]
