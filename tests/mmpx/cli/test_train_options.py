"""`mmpx train` options: --freeze (FreezeHook), --load-from across keypoint counts (PartialLoadHook), --seed,
--deterministic, --no-validate, --auto-scale-lr, --launcher."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

import mmpose_ext  # noqa: F401  (registers the hooks)
from mmpose_ext.compat.checkpoint import load as safe_load
from mmpx.errors import CheckpointError, ConfigError
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1"}
LOSS = re.compile(r"Epoch\(train\)\s+\[(\d+)\]\[(\d+)/\d+\].*?\sloss: ([0-9.e+-]+)")


def _build_model(config: Path):
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    init_default_scope("mmpose")
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(str(config)).model)
    model.init_weights()
    return model


def _save(model, path: Path) -> Path:
    torch.save({"state_dict": model.state_dict(), "meta": {}}, path)
    return path


def _state(path: Path) -> dict:
    return safe_load(str(path), map_location="cpu")["state_dict"]


def _runner(model):
    from mmengine.logging import MMLogger

    return SimpleNamespace(model=model, logger=MMLogger.get_instance("test_train_options"), hooks=[])


def _eight_keypoint_config(root: Path, tiny_coco: Path) -> Path:
    """The tiny config with an 8-keypoint dataset (first 8 of the 17 points) and head."""
    from mmpx.metainfo import build_metainfo, write_metainfo

    data = json.loads((tiny_coco / "annotations.json").read_text())
    for ann in data["annotations"]:
        ann["keypoints"], ann["num_keypoints"] = ann["keypoints"][: 8 * 3], 8
    data["categories"][0]["keypoints"] = [f"p{k}" for k in range(8)]
    (root / "ann8.json").write_text(json.dumps(data))
    # a skeleton: without one, dataset_meta holds an empty array, which the safe loader refuses (builtins.bytes)
    names = [f"p{k}" for k in range(8)]
    skeleton = [(names[k], names[k + 1]) for k in range(7)]
    write_metainfo(root / "meta8.py", build_metainfo("eight", names, skeleton=skeleton))
    text = write_tiny_config(root / "base.py", tiny_coco).read_text()
    text = text.replace("out_channels=17", "out_channels=8").replace("'annotations.json'", "'ann8.json'")
    text = text.replace("data_root + '/annotations.json'", repr(str(root / "ann8.json")))
    text = text.replace("type='CocoDataset', data_root=data_root,", f"type='CocoDataset', data_root={str(root)!r},")
    text = text.replace("data_prefix=dict(img='images/')", f"data_prefix=dict(img={str(tiny_coco / 'images')!r})")
    meta = f"metainfo=dict(from_file={str(root / 'meta8.py')!r})"
    text = text.replace("pipeline=pipeline)", f"pipeline=pipeline, {meta})")
    config = root / "tiny8.py"
    config.write_text(text)
    return config


def _losses(output: str) -> list[tuple[str, str, str]]:
    return LOSS.findall(output)


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_coco):
    root = tmp_path_factory.mktemp("train_options")
    config = write_tiny_config(root / "tiny.py", tiny_coco, max_epochs=2)
    init = _save(_build_model(config), root / "init.pth")
    return SimpleNamespace(root=root, config=config, init=init)


def _frozen_run(setup, name: str, *extra: str):
    work = setup.root / name
    result = mmpx(
        "train", str(setup.config), "--work-dir", str(work), "--load-from", str(setup.init),
        "--freeze", "backbone", "--seed", "3", "--deterministic", *extra,
        "--cfg-options", "optim_wrapper.optimizer.type=AdamW", "optim_wrapper.optimizer.weight_decay=0.5",
        env=ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return work, result.stdout + result.stderr


@pytest.fixture(scope="module")
def frozen(setup):
    """Two runs from the same init with --freeze backbone --seed 3 --deterministic (AdamW, weight decay 0.5)."""
    return _frozen_run(setup, "frozen"), _frozen_run(setup, "frozen_noval", "--no-validate")


# ---- hooks, in process ----


def test_hooks_build_from_registry(tmp_path):
    from mmpose.registry import HOOKS

    from mmpose_ext.engine import FreezeHook, PartialLoadHook

    hook = HOOKS.build(dict(type="FreezeHook", patterns=["backbone.*"]))
    assert isinstance(hook, FreezeHook) and hook.patterns == ["backbone.*"]
    hook = HOOKS.build(dict(type="PartialLoadHook", checkpoint=str(tmp_path / "x.pth")))
    assert isinstance(hook, PartialLoadHook) and hook.checkpoint == str(tmp_path / "x.pth")


def test_freeze_stage_shorthand_freezes_stem_and_first_stage(setup):
    from mmpose.registry import HOOKS

    model = _build_model(setup.config)
    hook = HOOKS.build(dict(type="FreezeHook", patterns=["backbone:1"]))
    hook.before_train(_runner(model))
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    stem_and_layer1 = ("backbone.conv1.", "backbone.bn1.", "backbone.layer1.")
    assert frozen == {n for n, _ in model.named_parameters() if n.startswith(stem_and_layer1)}
    model.train()  # what mmengine's loop does each epoch
    hook.before_train_iter(_runner(model), 0)
    assert not model.backbone.bn1.training and not model.backbone.layer1[0].bn1.training
    assert model.backbone.layer2[0].bn1.training and model.head.training


def test_freeze_glob_and_module_name(setup):
    from mmpose_ext.engine import resolve_freeze_patterns

    model = _build_model(setup.config)
    selected = resolve_freeze_patterns(model, ["*.bn1.*", "head.final_layer"])
    assert selected["head.final_layer"] == ["head.final_layer.weight", "head.final_layer.bias"]
    assert "backbone.bn1.weight" in selected["*.bn1.*"] and "backbone.layer2.0.bn1.bias" in selected["*.bn1.*"]


def test_freeze_bad_pattern_and_stage_count(setup):
    from mmpose_ext.engine import resolve_freeze_patterns

    model = _build_model(setup.config)
    with pytest.raises(ConfigError, match=r"'backbone\.nosuch\.\*' matches no parameter") as info:
        resolve_freeze_patterns(model, ["backbone.nosuch.*"])
    assert "backbone.layer1" in info.value.hint
    with pytest.raises(ConfigError, match=r"has 2 stage\(s\) \(layer1, layer2\), so N must be 1 to 2"):
        resolve_freeze_patterns(model, ["backbone:3"])


def test_partial_load_across_keypoint_counts(setup, tiny_coco, tmp_path):
    source = _build_model(setup.config)  # 17 keypoints
    ckpt = _save(source, tmp_path / "k17.pth")
    target = _build_model(_eight_keypoint_config(tmp_path, tiny_coco))
    from mmpose_ext.engine import partial_load

    report = partial_load(target, str(ckpt))
    assert report.skipped == [
        ("head.final_layer.weight", "shape mismatch: checkpoint (17, 64, 1, 1) vs model (8, 64, 1, 1)"),
        ("head.final_layer.bias", "shape mismatch: checkpoint (17,) vs model (8,)"),
    ]
    ours, theirs = target.state_dict(), source.state_dict()
    assert set(report.loaded) == set(ours) - {"head.final_layer.weight", "head.final_layer.bias"}
    assert all(torch.equal(ours[k], theirs[k]) for k in report.loaded)


def test_partial_load_reports_missing_and_unexpected_and_refuses_unrelated(setup, tmp_path):
    from mmpose_ext.engine import partial_load

    model = _build_model(setup.config)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("head.final_layer")}
    state["extra.weight"] = torch.zeros(2)
    torch.save({"state_dict": state}, tmp_path / "a.pth")
    report = partial_load(model, str(tmp_path / "a.pth"))
    assert ("head.final_layer.bias", "missing in checkpoint") in report.skipped
    assert ("extra.weight", "unexpected in checkpoint") in report.skipped
    torch.save({"state_dict": {"other.weight": torch.zeros(3)}}, tmp_path / "b.pth")
    with pytest.raises(CheckpointError, match="no tensor of .* matches the model"):
        partial_load(model, str(tmp_path / "b.pth"))


def test_train_wires_options_into_the_config(setup, monkeypatch):
    import importlib

    train_module = importlib.import_module("mmpose_ext.apis.run")

    seen = {}

    def fake_runner(cfg, **kwargs):
        seen["cfg"] = cfg
        return SimpleNamespace(train=lambda: None)

    monkeypatch.setattr(train_module, "build_runner", fake_runner)
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # restored afterwards (--deterministic sets it)
    train_module.train(
        setup.config, work_dir=setup.root / "w", load_from=setup.init, seed=5, deterministic=True, no_validate=True,
        launcher="slurm", freeze=["backbone:1"],
    )  # fmt: skip
    cfg = seen["cfg"]
    assert cfg.randomness == dict(seed=5, deterministic=True) and cfg.launcher == "slurm"
    assert cfg.val_cfg is None and cfg.val_dataloader is None and cfg.val_evaluator is None
    assert cfg.load_from is None  # the hook loads it
    assert [h["type"] for h in cfg.custom_hooks][-4:] == ["PartialLoadHook", "FreezeHook", "PlotHook", "ReportHook"]
    assert cfg.model_wrapper_cfg["find_unused_parameters"] is True

    with pytest.raises(ConfigError, match=rf"--auto-scale-lr: config {re.escape(str(setup.config))} has no"):
        train_module.train(setup.config, work_dir=setup.root / "w", auto_scale_lr=True)
    train_module.train(
        setup.config, work_dir=setup.root / "w", auto_scale_lr=True, cfg_options=["auto_scale_lr.base_batch_size=6"]
    )
    assert seen["cfg"].auto_scale_lr == dict(base_batch_size=6, enable=True)


def test_cli_passes_the_options_it_was_given(monkeypatch):
    from typer.testing import CliRunner

    import mmpose_ext.apis
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    seen = {}
    monkeypatch.setattr(mmpose_ext.apis, "train", lambda config, options: seen.update(vars(options)))
    app = build_app(load_plugins(distributions=[], env={}))
    args = ["--seed", "0", "--deterministic", "--no-validate", "--auto-scale-lr", "--launcher", "pytorch"]
    result = CliRunner().invoke(app, ["train", "cfg.py", *args, "--freeze", "backbone:2", "--freeze", "head.*"])
    assert result.exit_code == 0, result.output
    expected = dict(seed=0, deterministic=True, no_validate=True, auto_scale_lr=True, launcher="pytorch")
    assert {k: seen[k] for k in [*expected, "freeze"]} == dict(expected, freeze=["backbone:2", "head.*"])
    result = CliRunner().invoke(app, ["train", "cfg.py", "--launcher", "nope"])
    assert result.exit_code != 0


# ---- end to end, `mmpx train` in a subprocess ----


def test_freeze_backbone_keeps_weights_and_bn_stats_bit_identical(setup, frozen):
    (work, output), _ = frozen
    init, first, last = _state(setup.init), _state(work / "epoch_1.pth"), _state(work / "epoch_2.pth")
    backbone = [k for k in init if k.startswith("backbone.")]
    assert any("running_mean" in k for k in backbone) and any("num_batches_tracked" in k for k in backbone)
    for key in backbone:
        assert torch.equal(init[key], first[key]) and torch.equal(first[key], last[key]), key
    head = [k for k in init if k.startswith("head.") and k.endswith("weight")]
    assert all(not torch.equal(init[k], last[k]) for k in head)
    assert "FreezeHook froze 30 parameter tensors ('backbone': 30) and 10 BatchNorm layers" in output
    assert re.search(r"backbone\.layer2\s+525,568\s+0", output)
    assert f"loaded {len(init)} tensors from {setup.init}, skipped 0" in output


def test_seed_deterministic_gives_identical_losses_and_no_validate_skips_validation(frozen):
    (_, output), (work2, output2) = frozen
    losses = _losses(output)
    assert len(losses) == 4 and losses == _losses(output2)  # 2 epochs x 2 iterations, same values
    assert "Epoch(val)" in output and "coco/AP" in output
    assert "Epoch(val)" not in output2 and "coco/AP" not in output2
    assert (work2 / "epoch_2.pth").is_file()


def test_bad_freeze_pattern_is_one_clear_error(setup):
    result = mmpx("train", str(setup.config), "--work-dir", str(setup.root / "bad"), "--freeze", "nosuch.*", env=ENV)
    assert result.returncode == 1
    assert "--freeze pattern 'nosuch.*' matches no parameter of the model" in result.stderr
    assert "Traceback" not in result.stderr


def test_finetune_17_keypoint_checkpoint_into_8_keypoint_head(setup, frozen, tiny_coco, tmp_path):
    (work, _), _ = frozen
    config = _eight_keypoint_config(tmp_path, tiny_coco)
    result = mmpx(
        "train", str(config), "--work-dir", str(tmp_path / "w8"), "--load-from", str(work / "epoch_2.pth"),
        "--freeze", "backbone", "--no-validate", "--cfg-options", "train_cfg.max_epochs=1", env=ENV,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert (
        "skipped head.final_layer.weight: shape mismatch: checkpoint (17, 64, 1, 1) vs model (8, 64, 1, 1)" in output
    )
    assert "skipped head.final_layer.bias: shape mismatch: checkpoint (17,) vs model (8,)" in output
    assert re.search(r"loaded \d+ tensors from .*epoch_2\.pth, skipped 2:", output)
    source, tuned = _state(work / "epoch_2.pth"), _state(tmp_path / "w8" / "epoch_1.pth")
    assert tuned["head.final_layer.weight"].shape == (8, 64, 1, 1)
    assert all(torch.equal(source[k], tuned[k]) for k in tuned if k.startswith("backbone."))
