"""Tests of the example plugin through MMPose's registries and mmpx's plugin host, as a user meets it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose is used)
import numpy as np
import pytest
from mmpx.cli.main import build_app
from mmpx.errors import MmpxError
from mmpx.plugins.manager import load_plugins
from mmpx.testing import plugin_loads, run_cli
from typer.testing import CliRunner

from mmpx_plugin_example import config_path
from mmpx_plugin_example.convert import write_example_shapes
from mmpx_plugin_example.shapes import draw_sample

TOOLS_TRAIN = Path(__import__("mmpose").__file__).parent / ".mim" / "tools" / "train.py"


@pytest.fixture(scope="module")
def registries():
    """MMPose's registries with every MMPose and plugin class in them, and ``mmpose`` as default scope."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS, METRICS, MODELS
    from mmpose.utils import register_all_modules

    import mmpx_plugin_example.backbone  # noqa: F401
    import mmpx_plugin_example.dataset  # noqa: F401

    register_all_modules(init_default_scope=False)
    init_default_scope("mmpose")
    return dict(MODELS=MODELS, DATASETS=DATASETS, METRICS=METRICS)


def run(args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    # One OpenMP thread: on a busy 2-core machine, 2 spinning threads made iterations ~50x slower.
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env)


# --- backbone ---------------------------------------------------------------------------------------------


def test_backbone_builds_from_registry_and_returns_the_chosen_stages(registries):
    import torch

    net = registries["MODELS"].build(
        dict(type="ExampleTinyNet", widths=(8, 16, 32), strides=(2, 2, 1), out_indices=(0, -1), init_cfg=None)
    )
    net.init_weights()
    feats = net(torch.rand(2, 3, 64, 64))
    assert isinstance(feats, tuple)
    assert [tuple(f.shape) for f in feats] == [(2, 8, 32, 32), (2, 32, 16, 16)]
    feats[-1].mean().backward()
    assert all(p.grad is not None for p in net.parameters())


@pytest.mark.parametrize(
    "kwargs", [dict(widths=(8, 16), strides=(2,)), dict(out_indices=(3,)), dict(widths=(), strides=())]
)
def test_backbone_rejects_inconsistent_settings(registries, kwargs):
    with pytest.raises(ValueError):
        registries["MODELS"].build(dict(type="ExampleTinyNet", **kwargs))


# --- dataset ----------------------------------------------------------------------------------------------


def test_dataset_builds_from_registry_with_coco_style_samples(registries):
    ds = registries["DATASETS"].build(dict(type="ExampleShapesDataset", num_samples=3, img_size=64, seed=4))
    assert len(ds) == 3
    meta = ds.metainfo
    assert meta["dataset_name"] == "example_shapes" and meta["num_keypoints"] == 4
    assert meta["flip_indices"] == [0, 2, 1, 3]  # left and right swap under a flip
    assert meta["CLASSES"][0]["keypoints"] == ["top", "left", "right", "bottom"]
    info = ds[1]
    assert info["img"].shape == (64, 64, 3) and info["img"].dtype == np.uint8
    assert info["keypoints"].shape == (1, 4, 2) and (info["keypoints_visible"] == 1).all()
    x1, y1, x2, y2 = info["bbox"][0]
    kpts = info["keypoints"][0]
    assert ((kpts > [x1, y1]) & (kpts < [x2, y2])).all()
    assert info["id"] == info["img_id"] == 2 and int(info["category_id"]) == 1
    assert info["raw_ann_info"]["keypoints"][2::3] == [2, 2, 2, 2]
    # the named corners are where the names say
    top, left, right, bottom = kpts
    assert left[0] < right[0] and top[1] < bottom[1]


def test_dataset_is_deterministic_for_a_seed(registries):
    build = registries["DATASETS"].build
    a = build(dict(type="ExampleShapesDataset", num_samples=5, seed=7))
    b = build(dict(type="ExampleShapesDataset", num_samples=3, seed=7))
    c = build(dict(type="ExampleShapesDataset", num_samples=3, seed=8))
    for i in range(3):  # the first samples of a bigger set are the smaller set
        assert np.array_equal(a[i]["img"], b[i]["img"])
        assert np.array_equal(a[i]["keypoints"], b[i]["keypoints"])
    assert not np.array_equal(a[0]["img"], c[0]["img"])


def test_dataset_bottomup_mode_and_bad_arguments(registries):
    build = registries["DATASETS"].build
    ds = build(dict(type="ExampleShapesDataset", num_samples=2, data_mode="bottomup"))
    assert ds[0]["keypoints"].shape == (1, 4, 2) and ds[0]["img"].shape == (96, 96, 3)
    with pytest.raises(ValueError, match="ann_file"):
        build(dict(type="ExampleShapesDataset", ann_file="x.json"))
    with pytest.raises(ValueError, match="num_samples"):
        build(dict(type="ExampleShapesDataset", num_samples=0))


def test_smoke_config_pipeline_and_model_compute_a_loss(registries):
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    cfg = Config.fromfile(str(config_path("smoke")))
    ds = registries["DATASETS"].build({**cfg.train_dataloader.dataset, "num_samples": 2})
    packed = ds[0]
    assert tuple(packed["inputs"].shape) == (3, 64, 64)
    assert tuple(packed["data_samples"].gt_fields.heatmaps.shape) == (4, 16, 16)
    model = registries["MODELS"].build(cfg.model)
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), training=True)
    losses = model(**batch, mode="loss")
    assert torch.isfinite(losses["loss_kpt"]) and losses["loss_kpt"] > 0


def test_coco_metric_without_ann_file_scores_the_ground_truth_as_perfect(registries, tmp_path):
    ds = registries["DATASETS"].build(
        dict(type="ExampleShapesDataset", num_samples=4, seed=2, test_mode=True))
    metric = registries["METRICS"].build(dict(type="CocoMetric", outfile_prefix=str(tmp_path / "res")))
    metric.dataset_meta = ds.metainfo  # would try to open ann_file '' if the dataset announced it
    for i in range(len(ds)):
        info = ds[i]
        metric.process([], [dict(
            id=info["id"], img_id=info["img_id"], category_id=1, ori_shape=info["img"].shape[:2],
            raw_ann_info=info["raw_ann_info"], gt_instances=dict(bbox_scores=np.ones(1)),
            pred_instances=dict(keypoints=info["keypoints"], keypoint_scores=np.ones((1, 4))),
        )])
    assert metric.evaluate(len(ds))["coco/AP"] == pytest.approx(1.0)


# --- converter --------------------------------------------------------------------------------------------


def test_converter_writes_a_coco_dataset_that_matches_the_in_memory_one(registries, tmp_path):
    from xtcocotools.coco import COCO

    out = tmp_path / "kites"
    result = CliRunner().invoke(
        build_app(load_plugins()), ["convert", "example-shapes", str(out), "--n", "3", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    coco = COCO(str(out / "annotations.json"))
    assert len(coco.getImgIds()) == 3 and len(coco.getAnnIds()) == 3
    assert coco.loadCats(1)[0]["keypoints"] == ["top", "left", "right", "bottom"]
    ann = coco.loadAnns(coco.getAnnIds(imgIds=2))[0]
    img = cv2.imread(str(out / "images" / coco.loadImgs(2)[0]["file_name"]))
    assert np.array_equal(img, draw_sample(5, 1, 96).img)  # PNG is lossless
    kpts = np.reshape(ann["keypoints"], (4, 3))[:, :2]
    assert np.allclose(kpts, draw_sample(5, 1, 96).keypoints, atol=0.01)

    # MMPose's own CocoDataset reads it with the written metainfo, sample for sample as the in-memory set
    files = registries["DATASETS"].build(dict(
        type="CocoDataset", data_root=str(out), ann_file="annotations.json", data_prefix=dict(img="images/"),
        metainfo=dict(from_file=str(out / "metainfo.py"))))
    memory = registries["DATASETS"].build(dict(type="ExampleShapesDataset", num_samples=3, seed=5))
    assert files.metainfo["flip_indices"] == memory.metainfo["flip_indices"]
    for i in range(3):
        assert np.allclose(files[i]["keypoints"], memory[i]["keypoints"], atol=0.01)
        assert np.allclose(files[i]["bbox"], memory[i]["bbox"], atol=0.01)


def test_converter_refuses_bad_input_and_overwrites_only_when_asked(tmp_path):
    write_example_shapes(tmp_path, n=1)
    with pytest.raises(MmpxError, match="already exists"):
        write_example_shapes(tmp_path, n=1)
    write_example_shapes(tmp_path, n=2, overwrite=True)
    assert len(json.loads((tmp_path / "annotations.json").read_text())["images"]) == 2
    with pytest.raises(MmpxError, match="--n"):
        write_example_shapes(tmp_path / "other", n=0)


def test_plugin_and_converter_do_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from mmpx.cli.main import build_app\n"
        "from mmpx.plugins.manager import load_plugins\n"
        f"r = CliRunner().invoke(build_app(load_plugins()), ['convert', 'example-shapes', {str(tmp_path)!r}, "
        "'--n', '2'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'mmpose', 'mmengine', 'mmcv'})\n"
        "assert not heavy, heavy\n"
    )
    proc = run(["-c", code], timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "images" / "000001.png").is_file()


# --- plugin host and CLI ----------------------------------------------------------------------------------


def test_plugin_is_discovered_through_its_installed_entry_point():
    host = load_plugins(env={})
    info = {i.name: i for i in host.plugins()}["example"]
    assert (info.status, info.errors) == ("loaded", [])
    assert info.module == "mmpx_plugin_example.plugin" and info.distribution == "mmpx-plugin-example"
    assert info.hooks == ["mmpx_cli_commands", "mmpx_configs", "mmpx_converters", "mmpx_doctor_checks",
                          "mmpx_modules"]
    assert info.api == 1
    modules = {(c.item.registry, c.name) for c in host.modules() if c.plugin == "example"}
    assert modules == {("MODELS", "ExampleTinyNet"), ("DATASETS", "ExampleShapesDataset")}
    assert [c.name for c in host.cli_commands() if c.plugin == "example"] == ["example-info"]
    assert [c.name for c in host.converters() if c.plugin == "example"] == ["example-shapes"]
    from mmpose_ext.plugins import register_plugin_modules

    registered = {c.name for c in register_plugin_modules(host) if c.plugin == "example"}
    assert registered == {"ExampleTinyNet", "ExampleShapesDataset"} and info.errors == []


def test_plugin_loads_in_a_fresh_process_after_mmpose_ext():
    row = plugin_loads("example")  # as custom_imports runs it: mmpose_ext first, then the plugin's modules
    assert row["status"] == "loaded" and row["modules_seconds"] > 0
    assert set(row["contributes"]) == {"MODELS:ExampleTinyNet", "DATASETS:ExampleShapesDataset",
                                       "command:example-info", "converter:example-shapes",
                                       "config:example-smoke", "doctor:shapes"}


def test_shipped_config_is_found_by_name():
    listed = run_cli("configs", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    row = {r["name"]: r for r in listed.json()}["example-smoke"]
    assert (row["plugin"], Path(row["path"])) == ("example", config_path("smoke"))


def test_doctor_runs_the_plugins_own_check():
    from mmpx.testing import host_for

    import mmpx_plugin_example.plugin as plugin

    [row] = host_for(plugin, names=["example"], builtins=False).run_doctor_checks()
    assert (row.name, row.ok, row.value) == ("example: shapes", True, "draws a 32x32 kite with 4 keypoints")


def test_example_info_prints_configs_and_contributions():
    app = build_app(load_plugins())
    result = run_cli("example-info", "--json")
    assert result.exit_code == 0, result.stderr
    info = result.json()
    assert Path(info["configs"]["smoke"]).is_file()
    assert {m["name"] for m in info["modules"]} == {"ExampleTinyNet", "ExampleShapesDataset"}
    result = CliRunner().invoke(app, ["example-info", "--config", "smoke"])
    assert result.exit_code == 0 and Path(result.output.strip()) == config_path("smoke")
    result = CliRunner().invoke(app, ["example-info", "--config", "nope"])
    assert isinstance(result.exception, MmpxError)


@pytest.mark.parametrize("first", ["mmpose", "plugin"])
def test_names_do_not_collide_with_mmpose_in_either_import_order(first):
    mmpose = "from mmpose.utils import register_all_modules; register_all_modules(init_default_scope=False)"
    plugin = "import mmpx_plugin_example.backbone, mmpx_plugin_example.dataset"
    steps = [mmpose, plugin] if first == "mmpose" else [plugin, mmpose]
    proc = run(["-c", "; ".join(["import mmpose_ext", *steps])], timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


# --- end to end -------------------------------------------------------------------------------------------

SHORT_RUN = ["train_cfg.max_epochs=1", "train_dataloader.dataset.num_samples=32",
             "val_dataloader.dataset.num_samples=8"]


@pytest.mark.slow
def test_mmpx_train_trains_the_smoke_config_by_name(tmp_path):
    options = [arg for option in SHORT_RUN for arg in ("--cfg-options", option)]
    proc = run(["-m", "mmpx", "train", "example-smoke", "--work-dir", str(tmp_path), *options])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "epoch_1.pth").is_file()
    assert "coco/AP:" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_mmpose_tools_train_runs_the_smoke_config_through_custom_imports(tmp_path):
    proc = run([str(TOOLS_TRAIN), str(config_path("smoke")), "--work-dir", str(tmp_path), "--cfg-options",
                *SHORT_RUN])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "epoch_1.pth").is_file()
