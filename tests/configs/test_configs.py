"""Every config under configs/ loads, downloads nothing, builds and runs its model; the smoke one trains."""

from __future__ import annotations

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmpose_ext  # noqa: F401  (what custom_imports does)
from tests.helpers import ROOT, mmpx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

CONFIGS = sorted((ROOT / "configs").rglob("*.py"))
CONFIG_IDS = [str(p.relative_to(ROOT / "configs")) for p in CONFIGS]


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


def build_model(cfg: Config):
    if cfg.default_scope == "mmdet":
        import mmdet.utils
        from mmdet.registry import MODELS

        mmdet.utils.register_all_modules(init_default_scope=False)
    else:
        from mmpose.registry import MODELS
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model)


def test_there_are_configs():
    names = set(CONFIG_IDS)
    assert {f"carpose/rtmpose-{s}_carpose-256x256.py" for s in "tsml"} <= names
    assert {"carpose/rtmdet-tiny_carpose.py", "carpose/smoke_cpu.py"} <= names
    assert {"carpose/rtmo-t_carpose.py", "carpose/rtmo-s_carpose.py", "carpose/dekr-hrnet-w32_carpose.py"} <= names
    assert {f"humanart/rtmpose-t_humanart-{g}-256x192.py"
            for g in ("real_human", "2D_virtual_human", "3D_virtual_human")} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=CONFIG_IDS)
def test_config_loads_and_downloads_nothing(path):
    cfg = Config.fromfile(str(path))
    assert "mmpose_ext" in cfg.custom_imports["imports"] and not cfg.custom_imports["allow_failed_imports"]
    assert not cfg.get("load_from")
    assert cfg.model.backbone.init_cfg is None
    urls = [s for s in strings(cfg.model.to_dict()) if "://" in s]
    assert not urls, urls
    assert "SyncBN" not in list(strings(cfg.model.to_dict()))


@pytest.mark.parametrize("path", CONFIGS, ids=CONFIG_IDS)
def test_model_builds_and_runs(path):
    cfg = Config.fromfile(str(path))
    model = build_model(cfg).eval()
    with torch.no_grad():
        if cfg.default_scope == "mmdet":
            cls_scores, _ = model(torch.zeros(1, 3, 128, 128), mode="tensor")
            assert cls_scores[0].shape[1] == cfg.model.bbox_head.num_classes == len(cfg.metainfo["classes"])
            return
        if cfg.model.type == "BottomupPoseEstimator":  # RTMO, DEKR: whole images, any size divisible by 32
            outputs = model(torch.zeros(1, 3, 128, 128), None, mode="tensor")
            assert outputs and model.head.num_keypoints == cfg.model.head.num_keypoints == 8
            return
        width, height = cfg.codec["input_size"]
        simcc_x, simcc_y = model(torch.zeros(1, 3, height, width), None, mode="tensor")
    keypoints = cfg.model.head.out_channels
    ratio = cfg.codec["simcc_split_ratio"]
    assert simcc_x.shape == (1, keypoints, int(width * ratio))
    assert simcc_y.shape == (1, keypoints, int(height * ratio))


def test_pose_configs_use_our_datasets():
    for path in CONFIGS:
        cfg = Config.fromfile(str(path))
        dataset = cfg.train_dataloader.dataset
        val = cfg.val_dataloader.dataset
        if path.parent.name == "humanart" and val.type == "IndexedCombinedDataset":  # two splits, one evaluator
            assert [d.type for d in val.datasets] == ["HumanArtScenesDataset"] * len(val.datasets)
            assert cfg.val_evaluator.type == "CombinedDatasetEvaluator"
            assert cfg.val_evaluator.datasets == val.datasets
            assert all("ann_file" not in m for m in cfg.val_evaluator.metrics)
        elif path.parent.name == "humanart":
            assert dataset.type == cfg.val_dataloader.dataset.type == "HumanArtScenesDataset"
            assert dataset.groups == cfg.val_dataloader.dataset.groups == [path.stem.split("-")[2]]
            assert "ann_file" not in cfg.val_evaluator  # scored on the selected group only
        elif path.parent.name == "street" and cfg.default_scope == "mmpose":  # the union of 8 and 6 keypoints
            assert dataset.type == val.type == "MultiClassCocoDataset" and cfg.model.head.out_channels == 14
        elif cfg.model.type == "BottomupPoseEstimator":  # mmpx configs new's whole-image configs: any COCO file
            assert dataset.type == val.type == "CocoDataset" and dataset.data_mode == "bottomup"
            assert dataset.metainfo.from_file.endswith("mmpose_ext/datasets/metainfo/carpose.py")
            assert cfg.model.head.num_keypoints == 8 and dataset.ann_file == "annotations/train.json"
        elif cfg.default_scope == "mmpose":
            assert dataset.type == "CarPoseDataset" and cfg.model.head.out_channels == 8
            assert dataset.ann_file == "annotations/train.json" and dataset.data_prefix == dict(img="images/")


@pytest.mark.slow
def test_smoke_config_trains_on_synthetic_cars(tmp_path):
    """Synthesise, convert with the labelme converter, and train the CPU smoke config for one epoch."""
    labelme = pytest.importorskip("mmpx.convert.labelme")
    from mmpose_ext.datasets import CARPOSE_METAINFO

    result = mmpx("data", "synth", "carpose", str(tmp_path / "labelme"), "--n", "40", "--seed", "0")
    assert result.returncode == 0, result.stderr
    data = tmp_path / "coco"
    labelme.convert_labelme(tmp_path / "labelme", data, metainfo=CARPOSE_METAINFO, category="car",
                            val_ratio=0.2, seed=0, images="copy")
    assert (data / "annotations" / "train.json").is_file() and (data / "images").is_dir()
    work = tmp_path / "work"
    options = [f"{loader}.dataset.data_root={data}/" for loader in
               ("train_dataloader", "val_dataloader", "test_dataloader")]
    options += ["train_cfg.max_epochs=1", "train_cfg.val_interval=1", "default_hooks.checkpoint.interval=1"]
    args = ["train", str(ROOT / "configs" / "carpose" / "smoke_cpu.py"), "--work-dir", str(work)]
    for option in options:
        args += ["--cfg-options", option]
    result = mmpx(*args, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert (work / "epoch_1.pth").is_file()
    assert "coco/AP" in result.stdout + result.stderr
