"""Where a distributed CPU run gathers its ranks' results: in its own work dir, not where the user stands.

mmengine gathers each metric's samples (and the report's predictions) across ranks through pickle files in a
directory it makes under the *current working directory*, ``.dist_test/``: a 2-process ``mmpx train`` started in
a dataset's folder left that folder there (and the part files, if killed mid-validation). After
:func:`collect_under`, each gathering uses a fresh ``WORK_DIR/.mmpx-tmp-collect-<random>/`` instead (fresh each
time, as mmengine's: metrics gather one after another, so one fixed folder could lose a part). Rank 0 makes and
locks it, and mmengine removes it once read; one that a killed run left is an ended run's temporary, removed by
the next run in that work dir (:mod:`mmpx.atomic.stale`). The work dir must already be shared by the ranks
(checkpoints, logs), so it is at least as good a place as the working directory mmengine assumes shared. An
explicit ``tmpdir``/``collect_dir`` is left as given.
"""

from __future__ import annotations

import functools
import os

PREFIX = ".mmpx-tmp-collect-"
_work_dir: list[str] = []  # the run's work dir (absolute), once collect_under ran in this process


def _fresh_folder(dist) -> str:
    """A new folder in the work dir, made and locked by rank 0, its name given to every rank."""
    from mmpx.atomic.stale import new_tmp_dir

    name = [None]
    if dist.get_rank() == 0:
        os.makedirs(_work_dir[0], exist_ok=True)
        name[0] = new_tmp_dir(_work_dir[0], PREFIX).name
    dist.broadcast_object_list(name)
    return os.path.join(_work_dir[0], name[0])


def collect_under(work_dir) -> None:
    """mmengine's CPU result gathering (``collect_results(..., 'cpu')``) uses ``work_dir`` from now on."""
    import mmengine.dist.dist as dist

    from mmpx.atomic.stale import release

    _work_dir[:] = [os.path.abspath(str(work_dir))]
    if getattr(dist.collect_results_cpu, "mmpx_work_dir", False):
        return
    original = dist.collect_results_cpu

    @functools.wraps(original)
    def collect_results_cpu(result_part, size, tmpdir=None):
        if tmpdir is not None or dist.get_world_size() == 1:
            return original(result_part, size, tmpdir)
        folder = _fresh_folder(dist)
        try:
            return original(result_part, size, folder)  # rank 0 removes the folder once it has read the parts
        finally:
            release(folder)  # rank 0's lock (a no-op elsewhere)

    collect_results_cpu.mmpx_work_dir = True
    dist.collect_results_cpu = collect_results_cpu


__all__ = ["PREFIX", "collect_under"]
