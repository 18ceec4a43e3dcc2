"""Every keypoint set of the shared test data that is not COCO-17 goes from its raw COCO file to an ONNX
model through the command line alone, with no hand edit: ``mmpx metainfo from-coco`` (300W's numbered names
included), ``mmpx configs new --data test_SET.json`` (the images beside it), one training iteration, ``mmpx export
onnx`` and ``mmpx infer --backend onnxruntime``, whose results carry the set's keypoint count and names.

The commands run in this process through typer's CliRunner (torch imports once for the nine sets) on a 64x64 input,
one epoch of one step and no validation, so the module stays within about two minutes on two cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmpx.metainfo import keypoint_names, load_metainfo

pytestmark = [
    pytest.mark.stack, pytest.mark.slow,
    # mmengine keeps one visualiser per process under MMPose's fixed name; a second Runner in this process reuses it
    # and says so. Each `mmpx train` of a user is a process of its own.
    pytest.mark.filterwarnings("ignore:.*instance named of visualizer has been created:UserWarning"),
]

# every annotation set of ../shared/data/mmpose-testdata that is not COCO-17, with its keypoint count
SETS = {"ap10k": 17, "animalpose": 20, "horse10": 22, "macaque": 17, "zebra": 9, "locust": 35, "fly": 32,
        "300w": 68, "onehand10k": 21}
QUICK = ["--input-size", "64x64", "--epochs", "1"]
NO_WORKERS = ["--cfg-options", "train_dataloader.num_workers=0", "--cfg-options",
              "train_dataloader.persistent_workers=False"]


@pytest.fixture(scope="module")
def cli():
    import mmpose_ext  # noqa: F401  (torch, mmengine and the registries once, before the first command)
    from mmpx.cli.main import build_app
    from mmpx.plugins.manager import load_plugins

    app, runner = build_app(load_plugins()), CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, [str(a) for a in args])
        assert result.exit_code == 0, f"mmpx {' '.join(map(str, args))}\n{result.output}\n{result.exception!r}"
        return result.output

    return invoke


@pytest.mark.parametrize("name", list(SETS))
def test_raw_coco_file_to_onnx_predictions(cli, shared_data, name, tmp_path, monkeypatch):
    folder = shared_data / "mmpose-testdata" / name
    ann = folder / f"test_{name}.json"
    image = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[0]
    monkeypatch.chdir(tmp_path)  # the config names metainfo.py relative to where mmpx train runs, as a user's does

    cli("metainfo", "from-coco", ann, "metainfo.py")
    names = keypoint_names(load_metainfo("metainfo.py"))
    assert len(names) == SETS[name]
    config = f"{name}.py"  # one name per set: mmengine keys its loggers and visualisers by the config's name
    made = cli("configs", "new", "--data", ann, "--metainfo", "metainfo.py", "--model", "rtmpose-t", "--out", config,
               *QUICK)
    assert "preflight passed" in made
    trained = cli("train", config, "--work-dir", "work", "--device", "cpu", "--no-validate", *NO_WORKERS)
    assert "1 iteration(s)" in trained
    cli("export", "onnx", config, "work/epoch_1.pth", "--out", "model.onnx")
    cli("infer", image, "--weights", "model.onnx", "--backend", "onnxruntime", "--whole-image",
        "--save-json", "predictions.json")

    records = json.loads(Path("predictions.json").read_text())
    assert len(records) == 1 and records[0]["file_name"] == image.name
    assert len(records[0]["keypoints"]) == 3 * SETS[name]
    meta = json.loads(Path("model.json").read_text())["dataset_meta"]
    assert meta["num_keypoints"] == SETS[name]
    assert [meta["keypoint_id2name"][str(i)] for i in range(SETS[name])] == names
    if name == "300w":  # the file names no keypoints: numbered names, and they train
        assert names[0] == "kpt_0" and names[-1] == "kpt_67"
