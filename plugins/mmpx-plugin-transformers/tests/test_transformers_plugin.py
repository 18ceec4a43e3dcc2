"""Tests of the transformers plugin as a user meets it: MMPose's registry, the plugin host, ``mmpx`` commands
and MMPose's own tools/train.py, all without network (in this process through ``no_network``; in the ``mmpx``
subprocesses through a ``sitecustomize`` that blocks sockets the same way).

Models are small (ConvNeXt 16-256 channels at 64-128 px) and training runs are one epoch of 2 iterations, so
the file runs in about 2 minutes on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mmpose_ext  # noqa: F401  (compatibility fixes before mmpose is used)
import numpy as np
import pytest
from mmpx.errors import ConfigError
from mmpx.testing import carpose_data, plugin_loads, run_cli, train_briefly

from mmpx_transformers import config_path

TOOLS_TRAIN = Path(__import__("mmpose").__file__).parent / ".mim" / "tools" / "train.py"
RTMCC, HEATMAP = "transformers-convnext-rtmcc-carpose", "transformers-convnext-heatmap-carpose"
TINY = dict(hidden_sizes=[16, 32, 64, 128], depths=[1, 1, 1, 1])
# one small config per family; the strides each declares are checked against a forward pass
FAMILIES = {
    "convnext": TINY,
    "resnet": dict(TINY, embedding_size=16, layer_type="basic"),
    "swin": dict(embed_dim=16, depths=[1, 1, 1, 1], num_heads=[1, 2, 2, 4], window_size=4),
    "dinov2": dict(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, patch_size=16, image_size=64),
}
SHIPPED = dict(hidden_sizes=[32, 64, 128, 256], depths=[1, 1, 2, 1])  # the shipped configs' ConvNeXt
HUB_ID = "facebook/convnext-tiny-224"


@pytest.fixture(scope="module")
def models():
    """MMPose's ``MODELS`` with MMPose's classes and ``HFBackbone`` in it, ``mmpose`` as default scope."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS
    from mmpose.utils import register_all_modules

    import mmpx_transformers.backbone  # noqa: F401

    register_all_modules(init_default_scope=False)
    init_default_scope("mmpose")
    return MODELS


@pytest.fixture(scope="module")
def offline(tmp_path_factory):
    """Environment for ``mmpx`` subprocesses: sockets blocked from start-up (``block_network`` run by a
    ``sitecustomize`` on PYTHONPATH), HF offline switches, and one OpenMP thread (2 spinning threads on a busy
    2-core machine made iterations many times slower)."""
    site = tmp_path_factory.mktemp("offline")
    (site / "sitecustomize.py").write_text(
        "from mmpx.testing import block_network\nblock_network().__enter__()\n")
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


@pytest.fixture(scope="module")
def carpose(tmp_path_factory):
    """12 synthetic car images (one car each, 128 px), converted as the quickstart does; the data root."""
    return carpose_data(tmp_path_factory.mktemp("carpose"), n=12)


def data_options(root: Path) -> list[str]:
    return [f"{loader}.dataset.data_root={root}{os.sep}" for loader in ("train_dataloader", "val_dataloader",
                                                                        "test_dataloader")]


def build(models, model_type="convnext", config=None, **kwargs):
    return models.build(dict(type="HFBackbone", model_type=model_type, config=config or TINY, **kwargs))


def state_of(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# --- the backbone -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", list(FAMILIES))
def test_backbone_returns_nchw_maps_that_match_its_declarations(models, family):
    import torch

    net = build(models, family, FAMILIES[family], out_indices=(0, 2, -1))
    assert net.out_indices == (0, 2, 3)
    size = 64
    feats = net(torch.rand(2, 3, size, size))
    assert isinstance(feats, tuple) and len(feats) == 3
    assert all(f.dim() == 4 and f.shape[0] == 2 for f in feats)
    assert net.mmpx_out_channels == tuple(f.shape[1] for f in feats)
    assert net.mmpx_out_strides == tuple(size // f.shape[-1] for f in feats)
    assert all(size // f.shape[-2] == s for f, s in zip(feats, net.mmpx_out_strides, strict=True))
    # the stem and the stages exist, in order, and hold the stage parameters
    assert len(net.mmpx_stem) == 1 and len(net.mmpx_stages) == 4
    for name in (*net.mmpx_stem, *net.mmpx_stages):
        assert sum(p.numel() for p in net.get_submodule(name).parameters()) > 0, name
    feats[-1].mean().backward()
    assert next(net.get_submodule(net.mmpx_stages[-1]).parameters()).grad is not None


def test_declared_layout_of_resnet_and_convnext(models):
    resnet = build(models, "resnet", FAMILIES["resnet"])
    assert resnet.mmpx_stem == ("model.embedder",)
    assert resnet.mmpx_stages == tuple(f"model.encoder.stages.{i}" for i in range(4))
    assert (resnet.mmpx_out_channels, resnet.mmpx_out_strides) == ((128,), (32,))
    convnext = build(models, "convnext", out_indices=(1,))
    assert convnext.mmpx_stem == ("model.embeddings",)
    assert (convnext.mmpx_out_channels, convnext.mmpx_out_strides) == ((32,), (8,))
    assert convnext.model.out_features == ["stage2"]  # transformers counts the stem as stage 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(out_indices=(4,)), "must index the 4 stages"),
        (dict(out_indices=(1, -3)), "twice"),
        (dict(out_indices=()), "must index"),
        (dict(config=dict(TINY, hidden_size=[8])), "unknown key.*'hidden_size'.*hidden_sizes"),
        (dict(config=dict(TINY, out_indices=[1])), "out_indices"),
        (dict(config=dict(hidden_sizes=[8, 16], depths=[1, 1, 1, 1])), "transformers"),
        (dict(model_type="convnxt"), "convnxt.*did you mean convnext"),
        (dict(model_type="vit"), "without an AutoBackbone"),
        (dict(model_type="timm_backbone"), "timm"),
    ],
)
def test_bad_settings_are_one_clear_config_error(models, kwargs, match):
    kwargs = {"model_type": "convnext", "config": TINY, **kwargs}
    with pytest.raises(ConfigError, match=match):
        build(models, **kwargs)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_backbone_alone_exports_to_onnx_with_a_dynamic_batch(models, family, tmp_path):
    """torch's TorchScript exporter (mmpx export onnx tries it first) on each family; ONNX Runtime agrees."""
    import warnings

    import onnxruntime as ort
    import torch

    net = build(models, family, FAMILIES[family]).eval()
    path = tmp_path / f"{family}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net, (torch.randn(2, 3, 64, 64),), str(path), dynamo=False, opset_version=17,
                          input_names=["input"], dynamic_axes={"input": {0: "batch"}})
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"input": x.numpy()})
    with torch.no_grad():
        (expected,) = net(x)
    np.testing.assert_allclose(got, expected.numpy(), rtol=1e-4, atol=1e-4)


# --- weights ----------------------------------------------------------------------------------------------


def test_init_weights_keeps_transformers_initialisation(models):
    net = build(models)
    before = state_of(net)
    net.init_weights()  # mmengine calls transformers' init_weights unless told the model is initialised
    after = net.state_dict()
    assert all(torch_equal(before[k], after[k]) for k in before)


def torch_equal(a, b) -> bool:
    import torch

    return torch.equal(a, b)


@pytest.mark.parametrize("weights", [HUB_ID, "no/such/folder", "missing.safetensors"])
def test_weights_that_are_not_local_files_are_a_clear_error_and_nothing_is_downloaded(models, no_network,
                                                                                       weights, tmp_path):
    net = build(models, weights=weights)  # building never reads the weights: infer and export need none
    with pytest.raises(ConfigError) as info:
        net.init_weights()
    message = str(info.value)
    assert repr(weights) in message and "save_pretrained" in info.value.hint
    assert ("Hugging Face Hub id" in message) == (weights == HUB_ID)


def test_weights_of_another_size_name_the_config_keys_to_copy(models, tmp_path):
    other = build(models, config=dict(hidden_sizes=[8, 16, 32, 64], depths=[1, 1, 1, 1]))
    other.model.save_pretrained(tmp_path / "small")
    net = build(models, weights=str(tmp_path / "small"))
    with pytest.raises(ConfigError, match="do not fit the config") as info:
        net.init_weights()
    assert "hidden_sizes=[8, 16, 32, 64]" in info.value.hint


def test_save_pretrained_weights_load_and_survive_runner_init_weights(models, no_network, tmp_path):
    """The pose model's ``init_weights()`` (what the Runner calls, with the init_cfg) loads the weights
    into the backbone and leaves them as they were saved."""
    import torch
    from mmengine.config import Config
    from transformers import AutoConfig, ConvNextForImageClassification

    source = build(models, config=SHIPPED)
    source.model.save_pretrained(tmp_path / "folder")
    saved = state_of(source.model)
    cfg = Config.fromfile(str(config_path(RTMCC)))
    cfg.model.backbone.weights = str(tmp_path / "folder")
    pose = models.build(cfg.model)
    assert not torch.equal(pose.backbone.model.embeddings.patch_embeddings.weight,
                           saved["embeddings.patch_embeddings.weight"])  # random before init_weights
    pose.init_weights()
    loaded = pose.backbone.model.state_dict()
    assert all(torch.equal(saved[k], loaded[k]) for k in saved)

    # a state dict file, with the prefix of an mmpose-ext checkpoint; and an image classifier's folder
    torch.save({"state_dict": {f"backbone.model.{k}": v for k, v in saved.items()}}, tmp_path / "ckpt.pth")
    hf_cfg = AutoConfig.for_model("convnext", **TINY, num_labels=3)
    classifier = ConvNextForImageClassification(hf_cfg)
    classifier.save_pretrained(tmp_path / "classifier")
    for weights, expected in [(tmp_path / "ckpt.pth", saved),
                              (tmp_path / "folder" / "model.safetensors", saved),
                              (tmp_path / "classifier", {k.removeprefix("convnext."): v
                                                         for k, v in classifier.state_dict().items()})]:
        config = TINY if weights.name == "classifier" else SHIPPED
        # an init_cfg of the wrapper runs first: the weights are loaded after it
        net = build(models, config=config, weights=str(weights),
                    init_cfg=dict(type="Kaiming", layer=["Conv2d", "Linear"]))
        net.init_weights()
        state = net.model.state_dict()
        common = [k for k in expected if k in state]
        assert len(common) > 20 and all(torch.equal(state[k], expected[k]) for k in common), weights


# --- plugin, command, configs, doctor ---------------------------------------------------------------------


def test_plugin_loads_cleanly_after_mmpose_ext_and_contributes_everything():
    row = plugin_loads("transformers")
    assert row["api"] == 1
    assert set(row["contributes"]) == {"MODELS:HFBackbone", "command:transformers-info", f"config:{RTMCC}",
                                       f"config:{HEATMAP}", "doctor:AutoBackbone"}


def test_plugin_module_imports_nothing_heavy():
    code = ("import sys\n"
            "from mmpx_transformers import plugin\n"
            "assert plugin.MMPX_PLUGIN_API == 1\n"
            "names = [c.name for c in plugin.mmpx_configs()] + [c.name for c in plugin.mmpx_cli_commands()]\n"
            "assert all(c.path.is_file() for c in plugin.mmpx_configs())\n"
            "heavy = {'torch', 'transformers', 'mmpose', 'mmcv'} & {m.split('.')[0] for m in sys.modules}\n"
            "assert not heavy, heavy\n"
            "print(sorted(names))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "transformers-info" in proc.stdout and RTMCC in proc.stdout


def test_transformers_info_prints_stages_and_head_settings(offline):
    res = run_cli("transformers-info", "convnext", "-c", "hidden_sizes=[32,64,128,256]", "-c",
                  '{"depths": [1, 1, 2, 1]}', "--input-size", "128", "96", "--json", env=offline, timeout=300)
    assert res.exit_code == 0, res.stderr[-2000:]
    info = res.json()
    assert [(s["channels"], s["stride"], s["map_size"]) for s in info["stages"]] == [
        (32, 4, [32, 24]), (64, 8, [16, 12]), (128, 16, [8, 6]), (256, 32, [4, 3])]
    assert info["stem"] == "model.embeddings" and info["stages"][0]["module"] == "model.encoder.stages.0"
    head = info["head"]
    assert head["rtmcc"] == dict(in_channels=256, in_featuremap_size=[4, 3], input_size=[128, 96])
    assert head["heatmap"]["deconv_layers_for_quarter"] == 3  # 4x3 -> 32x24 = input / 4

    bad = run_cli("transformers-info", "convnxt", env=offline, timeout=300)
    assert bad.exit_code == 1 and "Traceback" not in bad.stderr
    assert "'convnxt'" in bad.stderr and "convnext" in bad.stderr.split("did you mean")[1]


def test_transformers_info_text_output_and_bad_config_values():
    from mmpx.cli.main import build_app
    from mmpx.errors import MmpxError
    from mmpx.plugins import load_plugins
    from typer.testing import CliRunner

    app = build_app(load_plugins())
    args = ["transformers-info", "resnet", "-c", "depths=[1,1,1,1]", "-c", "layer_type=basic", "--input-size",
            "64", "64"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "RTMCCHead: in_channels=2048, in_featuremap_size=(2, 2), input_size=(64, 64)" in result.output
    assert "stem: model.embedder" in result.output
    for bad, match in [(["-c", "depths"], "KEY=VALUE"), (["-c", "{nope"], "JSON"),
                       (["-c", "hidden_size=8"], "did you mean hidden_sizes"),
                       (["--out-index", "4"], "4 stages")]:
        result = CliRunner().invoke(app, ["transformers-info", "resnet", *bad])
        assert isinstance(result.exception, MmpxError), (bad, result.output)
        assert match in str(result.exception), bad


def test_doctor_check_builds_a_tiny_convnext_quickly(no_network):
    import time

    from mmpx_transformers.plugin import mmpx_doctor_checks

    (check,) = mmpx_doctor_checks()
    check.check()  # the first call imports transformers' ConvNeXt code
    start = time.perf_counter()
    value = check.check()
    assert time.perf_counter() - start < 1.0
    assert value.startswith("transformers 5.") and "convnext" in value


@pytest.mark.parametrize("name", [RTMCC, HEATMAP])
def test_shipped_config_builds_and_computes_a_loss(models, carpose, name):
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS

    cfg = Config.fromfile(str(config_path(name)))
    assert cfg.custom_imports.imports == ["mmpose_ext", "mmpx_transformers.backbone"]
    assert cfg.model.backbone.type == "HFBackbone" and cfg.model.backbone.weights is None
    ds = DATASETS.build({**cfg.train_dataloader.dataset, "data_root": f"{carpose}{os.sep}"})
    model = models.build(cfg.model)
    backbone = model.backbone
    assert cfg.model.head.in_channels == backbone.mmpx_out_channels[-1] == 256
    w, h = cfg.codec.input_size
    stride = backbone.mmpx_out_strides[-1]
    if name == RTMCC:
        assert tuple(cfg.model.head.in_featuremap_size) == (w // stride, h // stride)
    else:  # each deconv doubles the map
        doublings = 2 ** len(cfg.model.head.deconv_out_channels)
        assert (w // stride * doublings, h // stride * doublings) == tuple(cfg.codec.heatmap_size)
    batch = model.data_preprocessor(pseudo_collate([ds[0], ds[1]]), training=True)
    losses = model(**batch, mode="loss")
    assert all(torch.isfinite(v).all() for v in losses.values())


# --- end to end -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained(carpose, offline, tmp_path_factory):
    """Both shipped configs trained briefly with ``mmpx train`` (names resolved by the host): checkpoints."""
    out = {}
    for name in (RTMCC, HEATMAP):
        work = tmp_path_factory.mktemp(name)
        out[name] = train_briefly(name, work, cfg_options=data_options(carpose), env=offline)
    return out


@pytest.mark.slow
def test_mmpx_train_trains_both_shipped_configs(trained):
    import torch

    for name, ckpt in trained.items():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
        assert any(k.startswith("backbone.model.encoder.stages.3.") for k in state), name
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


@pytest.mark.slow
def test_freeze_backbone_2_keeps_the_stem_and_two_stages_as_loaded(models, carpose, offline, tmp_path):
    """Local weights loaded by the Runner and frozen with ``--freeze backbone:2``: the stem and stages 0-1 end
    as saved, the later stages train."""
    import torch
    from mmengine.config import Config

    cfg = Config.fromfile(str(config_path(HEATMAP)))
    source = models.build(cfg.model.backbone)
    source.model.save_pretrained(tmp_path / "init")
    saved = state_of(source.model)
    ckpt = train_briefly(HEATMAP, tmp_path / "run", cfg_options=[*data_options(carpose),
                         f"model.backbone.weights={tmp_path / 'init'}"],
                         args=("--freeze", "backbone:2"), env=offline)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    frozen_prefixes = ("embeddings.", "encoder.stages.0.", "encoder.stages.1.")
    frozen = [k for k in saved if k.startswith(frozen_prefixes)]
    trained = [k for k in saved if k.startswith("encoder.stages.3.")]
    assert frozen and trained
    assert all(torch.equal(state[f"backbone.model.{k}"], saved[k]) for k in frozen)
    assert any(not torch.equal(state[f"backbone.model.{k}"], saved[k]) for k in trained)
    log = next((tmp_path / "run").glob("*/*.log")).read_text()
    assert f"FreezeHook froze {len(frozen)} parameter tensors" in log
    assert "HFBackbone loaded" in log


@pytest.mark.slow
def test_mmpose_tools_train_runs_a_shipped_config_through_custom_imports(carpose, offline, tmp_path):
    # train.py's --no-validate drops val_dataloader before it applies --cfg-options: train settings only
    options = [data_options(carpose)[0], "train_dataloader.dataset.indices=4",
               "train_dataloader.batch_size=2",
               "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
               "train_cfg.max_epochs=1", "default_hooks.checkpoint.interval=1",
               "default_hooks.checkpoint.save_best=None"]
    command = [sys.executable, str(TOOLS_TRAIN), str(config_path(RTMCC)), "--work-dir", str(tmp_path),
               "--no-validate", "--cfg-options", *options]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600, env={**os.environ, **offline})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tmp_path / "epoch_1.pth").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", [RTMCC, HEATMAP])
def test_onnx_export_matches_torch_and_runs_in_mmpx_infer(models, trained, carpose, offline, tmp_path, name):
    import cv2
    import onnxruntime as ort
    import torch
    from mmpose.apis import inference_topdown, init_model
    from mmpx.runtime.ort import OnnxPoseModel

    config = config_path(name)
    onnx_path = tmp_path / "model.onnx"
    res = run_cli("export", "onnx", name, trained[name], "--out", onnx_path, env=offline)
    assert res.exit_code == 0, res.stderr[-3000:]
    assert onnx_path.is_file() and onnx_path.with_suffix(".json").is_file()

    # raw outputs: ONNX Runtime against the torch network on the same normalised crops
    model = init_model(str(config), str(trained[name]), device="cpu")
    x = torch.randn(2, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = model.head.forward(model.extract_feat(x))
    expected = expected if isinstance(expected, tuple) else (expected,)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    got = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e.numpy(), rtol=1e-4, atol=1e-5)

    # decoded keypoints on real crops: OnnxPoseModel against MMPose's inference_topdown
    ann = json.loads((carpose / "annotations" / "val.json").read_text())
    image = ann["images"][0]
    x0, y0, bw, bh = next(a["bbox"] for a in ann["annotations"] if a["image_id"] == image["id"])
    boxes = np.array([[x0, y0, x0 + bw, y0 + bh]], np.float32)
    img = cv2.imread(str(carpose / "images" / image["file_name"]))
    ref = inference_topdown(model, img, boxes)[0].pred_instances
    kpts, scores = OnnxPoseModel(onnx_path, threads=1).predict(img, boxes)
    assert kpts.shape == (1, 8, 2)
    np.testing.assert_allclose(kpts, ref.keypoints, atol=0.5)
    np.testing.assert_allclose(scores, ref.keypoint_scores, rtol=1e-3, atol=1e-4)

    # and the CLI on the image file, with the ONNX Runtime backend
    out = tmp_path / "pred.json"
    res = run_cli("infer", carpose / "images" / image["file_name"], "--backend", "onnxruntime", "--weights",
                  onnx_path, "--whole-image", "--save-json", out, "--no-progress", env=offline)
    assert res.exit_code == 0, res.stderr[-3000:]
    (record,) = json.loads(out.read_text())
    assert len(record["keypoints"]) == 8 * 3 and record["file_name"] == image["file_name"]


@pytest.mark.slow
def test_mmpx_train_refuses_a_hub_id_as_weights_with_one_line(carpose, offline, tmp_path):
    res = run_cli("train", RTMCC, "--work-dir", tmp_path, "--no-progress", "--cfg-options",
                  *data_options(carpose), f"model.backbone.weights={HUB_ID}", env=offline)
    assert res.exit_code == 1, res.stderr[-3000:]
    assert HUB_ID in res.stderr and "Hugging Face Hub id" in res.stderr and "save_pretrained" in res.stderr
    assert "Traceback" not in res.stderr and "NetworkBlocked" not in res.stderr


def test_preflight_names_the_right_head_settings_for_the_wrapped_model_in_seconds(models):
    import time

    from mmengine.config import Config
    from mmpose_ext.models.backbone import head_problems

    cfg = Config.fromfile(str(config_path(RTMCC)))
    cfg.model.head.in_channels, cfg.model.head.in_featuremap_size = 128, (8, 8)
    start = time.perf_counter()
    problems = head_problems(cfg, RTMCC)
    assert time.perf_counter() - start < 5
    assert [p.hint for p in problems] == ["set model.head.in_channels=256",
                                          "set model.head.in_featuremap_size=(4, 4)"]


@pytest.mark.slow
def test_mmpx_train_stops_a_wrong_in_channels_with_one_line(carpose, offline, tmp_path):
    res = run_cli("train", RTMCC, "--work-dir", tmp_path, "--no-progress", "--cfg-options",
                  *data_options(carpose), "model.head.in_channels=128", env=offline)
    assert res.exit_code == 1 and "Traceback" not in res.stderr
    error = next(line for line in res.stderr.splitlines() if line.startswith("error:"))
    assert "model.head.in_channels is 128 but the backbone's last output has 256 channels" in error
    assert "hint: set model.head.in_channels=256" in res.stderr
