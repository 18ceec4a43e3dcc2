"""``mmpx eval GT PRED`` on predictions numbered by another tool: matched to the ground truth by ``file_name``.

The end-to-end case is the one users have: ``mmpx infer`` on an exported model (torch-free) writes records
numbered from 1 with each image's path relative to the folder given, and the COCO file numbers its images its own
way and names them ``images/...``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.errors import MmpxError
from mmpx.evaluation.api import evaluate
from mmpx.evaluation.rekey import rekey_by_file_name
from tests.onnx_model import NAMES, write_tiny_onnx


def write_gt(root: Path, names: list[str], ids: list[int]) -> Path:
    """A COCO file whose images have ids ``ids`` and one instance each covering the whole 32x32 image."""
    images, anns = [], []
    for i, (name, image_id) in enumerate(zip(names, ids, strict=True)):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), np.full((32, 32, 3), 40 * i, np.uint8))
        images.append(dict(id=image_id, file_name=name, width=32, height=32))
        kpts = [v for k in range(len(NAMES)) for v in (8.0 + 4 * k, 8.0 + 4 * k, 2)]
        anns.append(dict(id=100 + i, image_id=image_id, category_id=1, bbox=[0, 0, 32, 32], area=1024,
                         iscrowd=0, num_keypoints=len(NAMES), keypoints=kpts))
    gt = root / "val.json"
    categories = [dict(id=1, name="thing", keypoints=NAMES, skeleton=[])]
    gt.write_text(json.dumps(dict(images=images, annotations=anns, categories=categories)))
    return gt


def metainfo(root: Path) -> Path:
    path = root / "metainfo.py"
    info = {i: dict(name=n, id=i, color=[255, 0, 0], type="", swap="") for i, n in enumerate(NAMES)}
    path.write_text(f"dataset_info = dict(dataset_name='thing', keypoint_info={info!r}, skeleton_info={{}}, "
                    f"joint_weights={[1.0] * len(NAMES)!r}, sigmas={[0.05] * len(NAMES)!r})\n")
    return path


def test_infer_predictions_are_scored_against_a_coco_file_by_file_name(tmp_path):
    names = ["images/b.png", "images/sub/a.png", "images/c.png"]
    gt = write_gt(tmp_path, names, [41, 7, 1000])
    model = write_tiny_onnx(tmp_path / "tiny.onnx", bias=5.0)
    preds = tmp_path / "preds.json"
    done = subprocess.run([sys.executable, "-m", "mmpx", "infer", str(tmp_path / "images"), "--backend",
                           "onnxruntime", "--weights", str(model), "--whole-image", "--save-json", str(preds)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    records = json.loads(preds.read_text())
    assert sorted(r["image_id"] for r in records) == [1, 2, 3]  # infer's own numbering
    assert {r["file_name"] for r in records} == {"b.png", "sub/a.png", "c.png"}
    result = evaluate(gt, preds, metainfo=metainfo(tmp_path))
    assert result["matched_by_file_name"] == 3 and result["matching"]["matched"] == 3
    done = subprocess.run([sys.executable, "-m", "mmpx", "eval", str(gt), str(preds), "--metainfo",
                           str(tmp_path / "metainfo.py")], capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "3 predictions took the ground truth's image ids from their file_name" in done.stdout


def test_ids_that_already_name_the_files_are_kept(tmp_path):
    gt = json.loads(write_gt(tmp_path, ["images/a.png", "images/b.png"], [3, 4]).read_text())
    results = [dict(image_id=3, file_name="images/a.png"), dict(image_id=4, file_name="images/b.png")]
    assert rekey_by_file_name(results, gt) == (results, 0)
    no_names = [dict(image_id=1), dict(image_id=2)]  # other tools' results: left to the id check
    assert rekey_by_file_name(no_names, gt) == (no_names, 0)


def test_a_file_name_that_matches_none_or_several_is_refused(tmp_path):
    gt = json.loads(write_gt(tmp_path, ["x/a.png", "y/a.png", "y/b.png"], [1, 2, 3]).read_text())
    with pytest.raises(MmpxError, match=r"'a.png' \(image_id 9\) matches 2 images \(1, 2\)"):
        rekey_by_file_name([dict(image_id=9, file_name="a.png")], gt, "preds.json")
    with pytest.raises(MmpxError, match="'z.png' .* matches no image") as info:
        rekey_by_file_name([dict(image_id=9, file_name="z.png")], gt, "preds.json")
    assert "relative to" in info.value.hint
    # a unique suffix, and a longer path than the ground truth's, both match
    rekeyed, count = rekey_by_file_name([dict(image_id=9, file_name="b.png"),
                                         dict(image_id=8, file_name="data/y/b.png")], gt)
    assert count == 2 and [r["image_id"] for r in rekeyed] == [3, 3]
