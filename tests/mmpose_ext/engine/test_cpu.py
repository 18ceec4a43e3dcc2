"""The thread policy applied to torch, the loader workers' init that binds them to their parent (and still
seeds), and `mmpx doctor`'s row showing what a run gets."""

from __future__ import annotations

import json
import pickle

import pytest
import torch
import torch.multiprocessing as tmp

from mmpose_ext.engine.cpu import (
    SHARING_ENV,
    WorkerInit,
    apply_to_torch,
    bind_loader_workers,
    share_tensors_by_name,
    torch_threads,
)
from mmpx.errors import MmpxError
from mmpx.runtime.threads import MARK, ThreadPolicy
from tests.helpers import mmpx

pytestmark = pytest.mark.stack


def test_apply_to_torch_sets_the_policy_s_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        apply_to_torch(ThreadPolicy(1, 1, "passive", 2, 0.0, "auto"))
        assert torch.get_num_threads() == 1
        monkeypatch.setenv(MARK, "1,1,passive,2,1.50,auto")
        monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
        assert torch_threads() == "1 thread, passive waiting (auto: 2 cores, load 1.50)"
    finally:
        torch.set_num_threads(before)


def _seed(calls: list, worker_id: int) -> None:
    calls.append(worker_id)


def test_worker_init_binds_then_runs_the_inner_one_and_pickles(monkeypatch):
    calls: list = []
    monkeypatch.setattr("mmpose_ext.engine.cpu.die_with_parent", lambda parent: calls.append(("bound", parent)))
    WorkerInit(lambda i: _seed(calls, i), parent=1234)(3)
    assert calls == [("bound", 1234), 3]
    assert pickle.loads(pickle.dumps(WorkerInit(None))).inner is None  # spawned workers get it pickled


def test_bind_loader_workers_wraps_loaders_with_workers_only():
    class Runner:
        @staticmethod
        def build_dataloader(workers):
            return torch.utils.data.DataLoader(list(range(4)), num_workers=workers, worker_init_fn=print)

    runner = Runner()
    bind_loader_workers(runner)
    wrapped = runner.build_dataloader(2).worker_init_fn
    assert isinstance(wrapped, WorkerInit) and wrapped.inner is print
    assert runner.build_dataloader(0).worker_init_fn is print


@pytest.fixture
def sharing():
    before = tmp.get_sharing_strategy()
    yield
    tmp.set_sharing_strategy(before)


class _Batches(torch.utils.data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return {"image": torch.full((3, 8, 8), float(i)), "heatmap": torch.full((2, 4, 4), float(i))}


def test_a_loader_with_workers_hands_tensors_over_by_name(sharing, monkeypatch):
    monkeypatch.delenv(SHARING_ENV, raising=False)
    tmp.set_sharing_strategy("file_descriptor")

    class Runner:
        @staticmethod
        def build_dataloader(workers):
            return torch.utils.data.DataLoader(_Batches(), batch_size=2, num_workers=workers)

    runner = Runner()
    bind_loader_workers(runner)
    runner.build_dataloader(0)
    assert tmp.get_sharing_strategy() == "file_descriptor"  # no workers: nothing to hand over, nothing changed
    batches = list(runner.build_dataloader(1))
    assert tmp.get_sharing_strategy() == "file_system"
    assert [b["image"][:, 0, 0, 0].tolist() for b in batches] == [[0.0, 1.0], [2.0, 3.0]]
    assert batches[1]["heatmap"].sum().item() == (2 + 3) * 2 * 4 * 4


def test_the_sharing_strategy_is_overridden_or_refused_by_name(sharing, monkeypatch):
    monkeypatch.setenv(SHARING_ENV, "file_descriptor")
    assert share_tensors_by_name() == "file_descriptor" == tmp.get_sharing_strategy()
    monkeypatch.setenv(SHARING_ENV, "by_pigeon")
    with pytest.raises(MmpxError) as err:
        share_tensors_by_name()
    assert SHARING_ENV in err.value.message and "file_system" in err.value.message and err.value.hint
    assert tmp.get_sharing_strategy() == "file_descriptor"  # unchanged by the refused value


def test_a_bad_sharing_value_stops_a_run_before_its_folder_is_made(tiny_coco, tmp_path, monkeypatch):
    from mmpose_ext.apis.run import train
    from tests.helpers import write_tiny_config

    config = write_tiny_config(tmp_path / "cfg.py", tiny_coco)
    monkeypatch.setenv(SHARING_ENV, "by_pigeon")
    with pytest.raises(MmpxError, match="MMPX_TENSOR_SHARING='by_pigeon'"):
        train(config, work_dir=tmp_path / "work")
    assert not (tmp_path / "work").exists()


def test_doctor_shows_the_threads():
    result = mmpx("doctor", "--json")
    rows = {row["name"]: row for row in json.loads(result.stdout)["checks"]}
    assert rows["threads"]["ok"] and "waiting" in rows["threads"]["value"], rows.get("threads")
