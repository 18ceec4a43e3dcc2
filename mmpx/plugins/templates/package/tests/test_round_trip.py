"""From labelled CSV rows to a deployed model, as a user goes: convert, check, train, export, infer."""

import json

import numpy as np
import pytest
from mmpx.testing import run_cli, train_briefly

CONFIG = "__NAME__-net-carpose"
NAMES = ["nose", "left_ear", "right_ear"]
# the plugin's own dataset reads the keypoint names from the converted files; the car dataset needs the metainfo
DATASET_READS_FILES = __HAS_DATASET__
LOADERS = ("train_dataloader", "val_dataloader", "test_dataloader")


def _labels(folder, n=6):
    """``n`` small images with three bright dots each, and the CSV that labels them."""
    import cv2

    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = ["image," + ",".join(f"{name}_{c}" for name in NAMES for c in "xyv")]
    for i in range(n):
        image = np.full((64, 64, 3), 40, np.uint8)
        points = rng.uniform(12, 52, (len(NAMES), 2))
        for x, y in points:
            cv2.circle(image, (int(x), int(y)), 3, (255, 255, 255), -1)
        cv2.imwrite(str(folder / f"{i}.png"), image)
        rows.append(f"{i}.png," + ",".join(f"{x:.1f},{y:.1f},2" for x, y in points))
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder / "labels.csv"


def _on(data):
    """The shipped config, pointed at the converted data and its keypoint count."""
    options = [f"{loader}.dataset.data_root={data}" for loader in LOADERS]
    if not DATASET_READS_FILES:
        options += [f"{loader}.dataset.metainfo.from_file={data}/metainfo.py" for loader in LOADERS]
    return [*options, f"model.head.out_channels={len(NAMES)}"]


@pytest.mark.slow
def test_labels_become_a_deployed_model(tmp_path, no_network):
    data = tmp_path / "data"
    converted = run_cli("convert", "__NAME__-csv", _labels(tmp_path / "labels"), data)
    assert converted.exit_code == 0, converted.stderr
    checked = run_cli("check", "data", data / "annotations" / "train.json", "--images", data / "images",
                      "--metainfo", data / "metainfo.py")
    assert checked.exit_code == 0, checked.stdout + checked.stderr

    checkpoint = train_briefly(CONFIG, tmp_path / "work", cfg_options=_on(data))
    model = tmp_path / "model.onnx"
    exported = run_cli("export", "onnx", CONFIG, checkpoint, "--out", model, "--cfg-options", *_on(data))
    assert exported.exit_code == 0, exported.stderr
    sidecar = json.loads(model.with_suffix(".json").read_text())
    assert sidecar["dataset_meta"]["keypoint_name2id"] == {name: i for i, name in enumerate(NAMES)}

    results = tmp_path / "results.json"
    inferred = run_cli("infer", data / "images", "--backend", "onnxruntime", "--weights", model, "--whole-image",
                       "--save-json", results, "--no-progress")
    assert inferred.exit_code == 0, inferred.stderr
    found = json.loads(results.read_text())
    assert len(found) == 6 and all(len(r["keypoints"]) == 3 * len(NAMES) for r in found)
