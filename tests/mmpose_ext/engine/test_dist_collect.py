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
