"""Where a distributed CPU run gathers its ranks' results: in its own work dir, not where the user stands.

mmengine gathers each metric's samples (and the report's predictions) across ranks through pickle files in a
directory it makes under the *current working directory*, ``.dist_test/``: a 2-process ``mmpx train`` started in
a dataset's folder left that folder there (and the part files, if killed mid-validation). After
:func:`collect_under`, such a gathering uses ``WORK_DIR/.dist_collect/<fresh>/`` instead, one fresh folder per
gathering as mmengine's own (metrics gather one after another, so a shared fixed folder could lose a part). The
work dir must already be shared by the ranks (checkpoints, logs), which makes it at least as good a place as the
working directory mmengine assumes shared. An explicit ``tmpdir``/``collect_dir`` is left as given.
"""

from __future__ import annotations

import functools
import os
import tempfile

FOLDER = ".dist_collect"
_work_dir: list[str] = []  # the run's work dir (absolute), once collect_under ran in this process


def _fresh_folder(dist) -> str:
    """A new folder under the work dir, made by rank 0, its name given to every rank."""
    name = [None]
    if dist.get_rank() == 0:
        parent = os.path.join(_work_dir[0], FOLDER)
        os.makedirs(parent, exist_ok=True)
        name[0] = os.path.basename(tempfile.mkdtemp(dir=parent))
    dist.broadcast_object_list(name)
    return os.path.join(_work_dir[0], FOLDER, name[0])


def collect_under(work_dir) -> None:
    """mmengine's CPU result gathering (``collect_results(..., 'cpu')``) uses ``work_dir`` from now on."""
    import mmengine.dist.dist as dist

    _work_dir[:] = [os.path.abspath(str(work_dir))]
    if getattr(dist.collect_results_cpu, "mmpx_work_dir", False):
        return
    original = dist.collect_results_cpu

    @functools.wraps(original)
    def collect_results_cpu(result_part, size, tmpdir=None):
        if tmpdir is not None or dist.get_world_size() == 1:
            return original(result_part, size, tmpdir)
        results = original(result_part, size, _fresh_folder(dist))  # rank 0 removes the fresh folder
        if dist.get_rank() == 0:
            try:
                os.rmdir(os.path.join(_work_dir[0], FOLDER))  # only when empty: nothing of ours is left
            except OSError:
                pass
        return results

    collect_results_cpu.mmpx_work_dir = True
    dist.collect_results_cpu = collect_results_cpu


__all__ = ["FOLDER", "collect_under"]
