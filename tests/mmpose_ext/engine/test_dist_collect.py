"""collect_under: a distributed run's result gathering moves to the work dir (the 2-process run itself is
tests/mmpx/app/test_launch.py's); in one process nothing is made, and the wrapper is installed once."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.stack


def test_one_process_makes_nothing_and_wraps_once(tmp_path, monkeypatch):
    import mmengine.dist.dist as dist
    from mmengine.dist import collect_results

    from mmpose_ext.engine.dist_collect import collect_under

    monkeypatch.setattr(dist, "collect_results_cpu", dist.collect_results_cpu)  # undone after the test
    collect_under(tmp_path / "a")
    wrapper = dist.collect_results_cpu
    collect_under(tmp_path / "b")  # a second run in the same process: the work dir changes, not the wrapper
    assert dist.collect_results_cpu is wrapper and wrapper.mmpx_work_dir
    monkeypatch.chdir(tmp_path)
    assert collect_results([1, 2, 3], 2, "cpu") == [1, 2]
    assert list(tmp_path.iterdir()) == []  # no folder made, in the work dir or here


def test_a_folder_a_killed_run_left_goes_with_the_next_cleanup(tmp_path):
    """Rank 0 held the folder's lock; once that process is gone (here: never locked, older than the grace time),
    the next run's cleanup of the work dir removes it, and nothing else."""
    import os
    import time

    from mmpose_ext.engine.dist_collect import PREFIX
    from mmpx.atomic import clean_stale

    left = tmp_path / f"{PREFIX}1a2b3c4d"
    left.mkdir()
    (left / "part_0.pkl").write_bytes(b"\x80\x02]q\x00.")
    (tmp_path / "epoch_1.pth").write_bytes(b"weights")
    old = time.time() - 60
    os.utime(left, (old, old))
    assert clean_stale(tmp_path) == [left]
    assert [p.name for p in tmp_path.iterdir()] == ["epoch_1.pth"]
