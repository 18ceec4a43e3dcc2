"""CPU work under :mod:`mmpx.runtime.threads`' policy, and data-loader workers that end with their parent.

The policy's thread counts are applied to torch here (the core never imports torch); its wait policy had to be in
the environment before torch was imported (``mmpx`` and ``mmpx.api`` put it there). Loader workers get a
``worker_init_fn`` that first binds them to the training process (``prctl(PR_SET_PDEATHSIG)``) and then runs the
one mmengine would have run (its seeding), so a SIGKILLed run leaves no worker behind. Their batches come back
through named shared-memory files (:func:`share_tensors_by_name`).
"""

from __future__ import annotations

import os

from mmpx.errors import MmpxError
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


SHARING_ENV = "MMPX_TENSOR_SHARING"


def share_tensors_by_name() -> str:
    """Loader workers hand their tensors to this process through named shared-memory files (torch's
    ``file_system`` strategy) instead of torch's default, one file descriptor per tensor, each sent over a socket
    connection of its own. A top-down batch of 32 carries about 90 tensors (images, heatmaps, weights): receiving
    it took 40 ms of the training process's time against 15 ms by name (benchmarks/loader_sharing.py), and no
    run can hit the open-file limit. Files of a killed run are removed by torch's ``torch_shm_manager``, which
    exits 2 s after its last user. ``MMPX_TENSOR_SHARING=file_descriptor`` keeps torch's default. Returns the
    strategy now in force."""
    import torch.multiprocessing as mp

    wanted = tensor_sharing()
    if mp.get_sharing_strategy() != wanted:
        mp.set_sharing_strategy(wanted)
    return wanted


def tensor_sharing() -> str:
    """The strategy :func:`share_tensors_by_name` sets: ``MMPX_TENSOR_SHARING``, else ``file_system``.

    Raises:
        MmpxError: a value that is not one of torch's strategies.
    """
    import torch.multiprocessing as mp

    wanted = os.environ.get(SHARING_ENV, "").strip() or "file_system"
    known = sorted(mp.get_all_sharing_strategies())
    if wanted not in known:
        raise MmpxError(f"{SHARING_ENV}={wanted!r} is not one of torch's sharing strategies ({', '.join(known)})",
                        f"unset {SHARING_ENV}, or set it to one of those")
    return wanted


def bind_loader_workers(runner) -> None:
    """Every loader ``runner`` builds from now on (train, val, test: built lazily) gets a :class:`WorkerInit`, and
    one with workers makes tensors travel by name (:func:`share_tensors_by_name`)."""
    build = runner.build_dataloader

    def build_dataloader(*args, **kwargs):
        loader = build(*args, **kwargs)
        if getattr(loader, "num_workers", 0):
            share_tensors_by_name()
            if not isinstance(loader.worker_init_fn, WorkerInit):
                loader.worker_init_fn = WorkerInit(loader.worker_init_fn)
        return loader

    runner.build_dataloader = build_dataloader


__all__ = ["SHARING_ENV", "WorkerInit", "apply_to_torch", "bind_loader_workers", "share_tensors_by_name",
           "tensor_sharing", "torch_threads"]
