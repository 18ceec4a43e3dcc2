"""The scaffolded plugin (every piece; tests/mmpx/plugins/test_scaffold.py) trained by MMPose's own tools/train.py, then
exported, run by ONNX Runtime and torch through `mmpx infer`, `mmpx test` and the Python API.

Its dataset reads the keypoint names from the converted files and has no class metainfo, so every step below takes
them from the checkpoint's ``meta.dataset_meta``; its backbone is a plain ``nn.Module`` without ``init_cfg``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mmpx.testing import mmpose_tool, run_cli
from tests.mmpx.plugins.test_scaffold import CONFIG, LOADERS, NAMES, make_wings

pytestmark = [pytest.mark.stack, pytest.mark.slow]


@pytest.fixture(scope="module")
def wings(tmp_path_factory):
    """The plugin ``wings``, installed for this module: (root, env)."""
    return make_wings(tmp_path_factory.mktemp("wings"))


@pytest.fixture(scope="module")
def data(wings):
    """Six tiny images labelled in the plugin's CSV format, converted with its converter."""
    import cv2

    root, env = wings
    labels = root / "labels"
    labels.mkdir()
    rng = np.random.default_rng(1)
    rows = ["image," + ",".join(f"{name}_{c}" for name in NAMES for c in "xyv")]
    for i in range(6):
        image = np.full((64, 64, 3), 40, np.uint8)
        points = rng.uniform(12, 52, (len(NAMES), 2))
        for x, y in points:
            cv2.circle(image, (int(x), int(y)), 3, (255, 255, 255), -1)
        cv2.imwrite(str(labels / f"{i}.png"), image)
        rows.append(f"{i}.png," + ",".join(f"{x:.1f},{y:.1f},2" for x, y in points))
    (labels / "labels.csv").write_text("\n".join(rows) + "\n")
    converted = run_cli("convert", "wings-csv", labels / "labels.csv", root / "data", env=env)
    assert converted.exit_code == 0, converted.stderr
    return root / "data"


def _on(data):
    """The shipped config on the converted data: its dataset takes the keypoint names from the files."""
    return [*(f"{loader}.dataset.data_root={data}" for loader in LOADERS), f"model.head.out_channels={len(NAMES)}"]


@pytest.fixture(scope="module")
def trained_by_mmpose_tools(wings, data):
    """``mmpx configs dump`` then MMPose's own tools/train.py for one short epoch; returns (config, checkpoint)."""
    root, env = wings
    config = root / "wings.py"
    dumped = run_cli("configs", "dump", CONFIG, config, env=env)
    assert dumped.exit_code == 0, dumped.stderr
    short = ["train_cfg.max_epochs=1", "train_cfg.val_interval=5", "train_dataloader.batch_size=2",
             "default_hooks.checkpoint.interval=1", "default_hooks.checkpoint.save_best=None",
             *(f"{loader}.{key}" for loader in LOADERS for key in ("num_workers=0", "persistent_workers=False"))]
    result = subprocess.run([sys.executable, str(mmpose_tool("train.py")), str(config), "--work-dir",
                             str(root / "tools"), "--cfg-options", *_on(data), *short],
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (root / "tools" / "epoch_1.pth").is_file(), result.stderr[-2000:]
    return config, root / "tools" / "epoch_1.pth"


_API = textwrap.dedent("""
    import json, sys
    import numpy as np
    from mmpx.api import PoseEstimator

    config, checkpoint, onnx, image, *options = sys.argv[1:]
    fast = PoseEstimator(onnx)                                      # ONNX Runtime
    exact = PoseEstimator(config, checkpoint, cfg_options=options)  # torch, from the config and the checkpoint
    a, b = fast(image), exact(image)
    print(json.dumps(dict(onnx=a.names, torch=b.names, diff=float(np.abs(a.keypoints - b.keypoints).max()))))
""")


def test_mmpose_tools_train_then_mmpx_exports_infers_and_tests(wings, data, trained_by_mmpose_tools):
    root, env = wings
    config, checkpoint = trained_by_mmpose_tools
    model = root / "tools.onnx"
    exported = run_cli("export", "onnx", config, checkpoint, "--out", model, "--cfg-options", *_on(data), env=env)
    assert exported.exit_code == 0, exported.stderr
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["dataset_meta"]["keypoint_name2id"] == {name: i for i, name in enumerate(NAMES)}
    assert sidecar["dataset_meta"]["flip_indices"] == [0, 2, 1]  # the swaps inferred from the names

    results = root / "tools_results.json"
    inferred = run_cli("infer", data / "images", "--backend", "onnxruntime", "--weights", model, "--whole-image",
                       "--save-json", results, "--no-progress", env=env)
    assert inferred.exit_code == 0, inferred.stderr
    assert len(json.loads(results.read_text())) == 6

    api = subprocess.run([sys.executable, "-c", _API, str(config), str(checkpoint), str(model),
                          str(data / "images" / "0.png"), *_on(data)], env={**os.environ, **env},
                         capture_output=True, text=True, timeout=600)
    assert api.returncode == 0, api.stderr[-3000:]
    found = json.loads(api.stdout.strip().splitlines()[-1])
    assert found["onnx"] == found["torch"] == NAMES  # both backends name the keypoints from the checkpoint
    assert found["diff"] < 0.5

    tested = run_cli("test", config, checkpoint, "--work-dir", root / "test", "--cfg-options", *_on(data), env=env)
    assert tested.exit_code == 0, tested.stderr[-3000:]


def test_without_metainfo_anywhere_export_says_so_in_one_line(wings, data, trained_by_mmpose_tools, tmp_path):
    import torch

    root, env = wings
    config, checkpoint = trained_by_mmpose_tools
    bare = tmp_path / "bare.pth"  # the weights alone: no meta.dataset_meta
    torch.save({"state_dict": torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]}, bare)
    result = run_cli("export", "onnx", config, bare, "--out", tmp_path / "bare.onnx", "--cfg-options", *_on(data),
                     env=env)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert ("no dataset metainfo in the checkpoint or the config's datasets: WingsDataset (train_dataloader.dataset) "
            "has no fixed metainfo") in result.stderr
    assert not (tmp_path / "bare.onnx").exists()


def test_an_error_raised_in_the_plugins_code_names_the_plugin(wings, data, trained_by_mmpose_tools, tmp_path):
    root, env = wings
    config, checkpoint = trained_by_mmpose_tools
    result = run_cli("export", "onnx", config, checkpoint, "--out", tmp_path / "x.onnx", "--cfg-options",
                     *_on(data), "model.backbone.out_indices=[5]", env=env)
    assert result.exit_code == 1, result.stderr
    assert "must index the 3 stages (raised in plugin wings (mmpx-plugin-wings 0.1.0))" in result.stderr
    assert "MMPX_BLOCK_PLUGINS=wings" in result.stderr and "this is unexpected" not in result.stderr
