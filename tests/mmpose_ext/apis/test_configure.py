"""The config edits of train and test (mmpose_ext.apis.configure) on the shipped configs, with no Runner built:
each option lands where mmengine reads it, the config passed in is left as it was, and nothing is written."""

from __future__ import annotations

import copy

import pytest

import mmpose_ext  # noqa: F401  (the fixes that let mmengine resolve mmpose:: bases)
from mmpose_ext.apis.configure import configure_test, configure_train
from mmpose_ext.apis.options import RunOptions
from mmpose_ext.config import load_config
from mmpx.errors import ConfigError
from tests.helpers import ROOT

pytestmark = pytest.mark.stack

POSE = ROOT / "configs" / "carpose" / "smoke_cpu.py"
DETECTOR = ROOT / "configs" / "carpose" / "rtmdet-tiny_carpose-cpu.py"


@pytest.fixture
def nothing_built_or_written(tmp_path, monkeypatch):
    """Run in an empty folder with the Runner unbuildable; afterwards the folder must still be empty."""
    from mmengine.runner import Runner

    def no_runner(*args, **kwargs):
        raise AssertionError("configure built a Runner")

    monkeypatch.setattr(Runner, "__init__", no_runner)
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    assert list(tmp_path.iterdir()) == []


def _types(hooks) -> list[str]:
    return [h["type"] for h in hooks]


def test_train_options_land_in_the_config_and_the_input_is_left_alone(nothing_built_or_written):
    cfg = load_config(POSE, plugins=False)
    before = copy.deepcopy(cfg.to_dict())
    options = RunOptions(seed=3, deterministic=True, no_validate=True, auto_scale_lr=True, amp=True,
                         load_from="init.pth", freeze=["backbone:1"], launcher="pytorch", progress=True)
    out = configure_train(cfg, options, str(POSE))
    assert cfg.to_dict() == before
    assert out.work_dir == "work_dirs/smoke_cpu"  # as MMPose's tools name it
    assert out.randomness == dict(seed=3, deterministic=True)
    assert out.val_cfg is None and out.val_dataloader is None and out.val_evaluator is None
    assert out.auto_scale_lr == dict(base_batch_size=16, enable=True)
    assert out.optim_wrapper.type == "AmpOptimWrapper" and out.optim_wrapper.loss_scale == "dynamic"
    assert out.launcher == "pytorch" and out.model_wrapper_cfg["find_unused_parameters"] is True
    assert out.load_from is None  # PartialLoadHook loads it, after the weight init
    assert out.default_hooks.checkpoint.type == "AtomicCheckpointHook"
    hooks = out.custom_hooks
    assert _types(hooks) == ["PartialLoadHook", "FreezeHook", "PlotHook", "ReportHook", "ProgressHook"]
    assert hooks[0]["checkpoint"] == "init.pth" and hooks[1]["patterns"] == ["backbone:1"]
    import os

    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ  # the run sets it, not the config edits


def test_train_defaults_add_mmpx_hooks_once(nothing_built_or_written):
    cfg = load_config(POSE, plugins=False)
    out = configure_train(cfg, RunOptions(work_dir="runs/a"), str(POSE))
    assert out.work_dir == "runs/a" and not out.get("resume") and out.get("load_from") is None
    assert _types(out.custom_hooks) == ["PlotHook", "ReportHook", "MetricCheckHook"]
    again = configure_train(out, RunOptions(progress=True), str(POSE))
    assert _types(again.custom_hooks) == ["PlotHook", "ReportHook", "MetricCheckHook", "ProgressHook"]
    detector = configure_train(load_config(DETECTOR, plugins=False), RunOptions(), str(DETECTOR))
    # mmdet's CocoMetric rightly returns nothing while an early detector finds no box
    assert "MetricCheckHook" not in _types(detector.custom_hooks)


def test_resume(nothing_built_or_written):
    cfg = load_config(POSE, plugins=False)
    found = configure_train(cfg, RunOptions(resume="auto", load_from="init.pth"), found="w/epoch_3.pth")
    assert (found.resume, found.load_from) == (True, "init.pth")
    assert "PartialLoadHook" not in _types(found.custom_hooks)  # resuming loads the state as mmengine does
    picked = configure_train(cfg, RunOptions(resume=True), found="w/epoch_3.pth")
    assert (picked.resume, picked.load_from) == (True, "w/epoch_3.pth")
    nothing = configure_train(cfg, RunOptions(resume=True), found=None)
    assert (nothing.resume, nothing.load_from) == (False, None)  # from scratch, as the run then says
    path = configure_train(cfg, RunOptions(resume="w/epoch_1.pth"))
    assert (path.resume, path.load_from) == (True, "w/epoch_1.pth")


def test_train_options_the_config_cannot_take(nothing_built_or_written):
    cfg = load_config(POSE, ["auto_scale_lr.base_batch_size=0"], plugins=False)
    with pytest.raises(ConfigError, match=r"--auto-scale-lr: config .*smoke_cpu\.py has no auto_scale_lr"):
        configure_train(cfg, RunOptions(auto_scale_lr=True), str(POSE))
    with pytest.raises(ConfigError, match="--vis nope: not a visualisation backend"):
        configure_train(cfg, RunOptions(vis=["nope"]), str(POSE))


def test_test_outputs_point_at_their_staged_places(nothing_built_or_written):
    here = nothing_built_or_written
    cfg = load_config(POSE, plugins=False)
    before = copy.deepcopy(cfg.to_dict())
    options = RunOptions(dump=here / "out" / "preds.pkl", show_dir=here / "vis", launcher="slurm")
    out = configure_test(cfg, "epoch_5.pth", options, str(POSE))
    assert cfg.to_dict() == before
    assert out.load_from == "epoch_5.pth" and out.launcher == "slurm"
    assert out.test_evaluator[-1] == dict(type="DumpResults",
                                          out_file_path=str(here / "out" / ".mmpx-tmp-preds.partial.pkl"))
    vis = out.default_hooks.visualization
    assert vis.type == "PerImageVisualizationHook" and vis.enable and vis.interval == 1
    assert vis.out_dir == str(here.resolve() / ".mmpx-tmp-vis.partial")  # absolute: MMPose's hook re-joins it per batch
    assert _types(out.custom_hooks) == ["MetricCheckHook", "ReportHook"]
    with pytest.raises(ConfigError, match=r"--dump .*preds\.json: the file must end in \.pkl or \.pickle"):
        configure_test(cfg, "epoch_5.pth", RunOptions(dump="preds.json"), str(POSE))


def test_test_on_a_detector_keeps_its_own_drawing(nothing_built_or_written):
    cfg = load_config(DETECTOR, plugins=False)
    out = configure_test(cfg, "det.pth", RunOptions(show_dir="vis"), str(DETECTOR))
    assert out.default_hooks.visualization.type == "DetVisualizationHook"  # a detector's samples are whole images
    assert _types(out.custom_hooks) == ["EMAHook", "ReportHook"]
