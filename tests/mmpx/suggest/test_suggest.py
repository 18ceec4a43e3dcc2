"""``mmpx suggest``: the mirrored-prediction geometry, diversity against near-duplicates, video frames, --exclude,
the output folder (labelme opens it, convert reads it), and refusals before any work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.convert import convert_labelme
from mmpx.infer.boxes import WholeImage
from mmpx.infer.inputs import collect
from mmpx.suggest.run import suggest
from mmpx.suggest.score import combine, flip_disagreement, score
from mmpx.suggest.select import select
from mmpx.synth.carpose import synth_carpose
from mmpx.testing import run_cli
from tests.onnx_model import NAMES, write_tiny_onnx


class SpotModel:
    """Keypoint k = the brightest pixel of colour channel k inside the box: mirroring the image mirrors the answer
    exactly (a model that has learned its objects perfectly)."""

    dataset_meta = {"flip_indices": [0, 1, 2], "keypoint_id2name": {0: "b", 1: "g", 2: "r"}, "num_keypoints": 3}

    def predict(self, image, bboxes):
        kpts = []
        for x1, y1, x2, y2 in np.asarray(bboxes, int):
            crop = image[y1:y2, x1:x2]
            kpts.append([np.unravel_index(crop[..., k].argmax(), crop.shape[:2])[::-1] + np.array([x1, y1])
                         for k in range(3)])
        return np.asarray(kpts, float).reshape(-1, 3, 2), np.ones((len(kpts), 3))


class OffsetModel(SpotModel):
    """Every keypoint 10 px right of the box's left edge: mirrored, it is 10 px left of the right edge."""

    def predict(self, image, bboxes):
        b = np.asarray(bboxes, float)
        kpts = np.repeat(np.stack([b[:, 0] + 10, (b[:, 1] + b[:, 3]) / 2], -1)[:, None], 3, axis=1)
        return kpts, np.full((len(b), 3), 0.5)


def _spots(rng, h=60, w=80) -> np.ndarray:
    image = np.zeros((h, w, 3), np.uint8)
    for k in range(3):
        image[rng.integers(h), rng.integers(w), k] = 255
    return image


def test_a_mirror_consistent_model_disagrees_by_zero_and_an_offset_one_by_the_known_amount():
    rng = np.random.default_rng(0)
    boxes = np.array([[0, 0, 80, 60], [5, 7, 65, 52]], np.float32)
    for _ in range(5):
        image = _spots(rng)
        _, _, dis = flip_disagreement(SpotModel(), image, boxes[:1], [0, 1, 2])
        assert dis.tolist() == [0.0]
    _, _, dis = flip_disagreement(OffsetModel(), _spots(rng), boxes, [0, 1, 2])
    # x1 + 10 against, mapped back from the mirror image, (width - 1) - (width - x2 + 10) = x2 - 11
    w = boxes[:, 2] - boxes[:, 0]
    expected = np.abs(w - 1 - 20) / np.sqrt(w * (boxes[:, 3] - boxes[:, 1]))
    np.testing.assert_allclose(dis, expected, rtol=1e-6)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return write_tiny_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx", bias=2.0)


def _pool(folder: Path, n: int, seed: int) -> Path:
    synth_carpose(folder, n, seed=seed, size=96, max_cars=1)
    for f in folder.glob("*.json"):
        f.unlink()
    return folder


def test_diverse_does_not_take_near_duplicates_that_uncertainty_takes(model, tmp_path):
    """The least certain image copied 20 times with a little noise: uncertainty sampling fills most of its 8 picks
    with the copies, the default strategy takes at most 2 of them."""
    from mmpx.runtime import OnnxPoseModel

    onnx = OnnxPoseModel(str(model), flip_test=False)
    pool = _pool(tmp_path / "pool", 30, seed=2)
    scored = [score(onnx, WholeImage(), cv2.imread(str(p)), p.name, str(p), None, [0, 1, 3, 2])
              for p in sorted(pool.glob("*.jpg"))]
    combine(scored)
    hardest = max(scored, key=lambda c: c.uncertainty)
    image = cv2.imread(hardest.path).astype(np.int16)
    rng = np.random.default_rng(0)
    for i in range(20):
        noisy = np.clip(image + rng.integers(-2, 3, image.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(pool / f"copy_{i:02d}.png"), noisy)
    sources, _ = collect([pool])
    picks = {}
    for strategy in ("uncertainty", "diverse"):
        report = suggest(sources, onnx, WholeImage(), tmp_path / strategy, 8, strategy=strategy, inputs=[pool])
        picks[strategy] = [c.name for c in report.chosen]
        assert len(picks[strategy]) == 8 == len(set(picks[strategy]))
    copies = {s: sum(name.startswith("copy_") or name == hardest.name for name in p) for s, p in picks.items()}
    assert copies["uncertainty"] >= 5 and copies["diverse"] <= 2, (copies, picks)


def test_random_and_selection_edges():
    rng = np.random.default_rng(0)

    class C:
        def __init__(self, i):
            self.name, self.uncertainty, self.feature = str(i), float(rng.random()), rng.random(4)

    cands = [C(i) for i in range(12)]
    assert [c.name for c in select(cands, 3, "random", seed=1)] == [c.name for c in select(cands, 3, "random", 1)]
    assert [c.name for c in select(cands, 3, "random", 1)] != [c.name for c in select(cands, 3, "random", 2)]
    top = sorted(cands, key=lambda c: -c.uncertainty)[:4]
    assert select(cands, 4, "uncertainty") == top
    assert len(select(cands, 50, "diverse")) == 12  # fewer candidates than asked: all of them


def test_cli_writes_a_folder_labelme_and_convert_read(model, tmp_path):
    pool = _pool(tmp_path / "pool", 12, seed=4)
    video = tmp_path / "clips" / "drive.avi"
    video.parent.mkdir()
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (96, 64))
    for i in range(25):
        writer.write(np.full((64, 96, 3), 10 * i, np.uint8))
    writer.release()
    labelled = tmp_path / "labelled"
    labelled.mkdir()
    shutil.copy(pool / "000003.jpg", labelled / "renamed.jpg")  # already labelled, under another name
    (pool / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")  # skipped and listed, not fatal
    result = run_cli("suggest", pool, video.parent, "--out", tmp_path / "next", "--n", "6", "--model", model,
                     "--backend", "onnxruntime", "--whole-image", "--frame-step", "10", "--exclude", labelled,
                     "--no-progress", "--json")
    assert result.exit_code == 0, result.stderr
    ranking = result.json()
    assert ranking["candidates"] == 11 + 3 and ranking["excluded"] == 1  # 11 images + frames 0, 10, 20
    assert [s["file"] for s in ranking["skipped"]] == [str(pool / "broken.jpg")]
    assert len(ranking["chosen"]) == 6 and all(r["name"] != "000003.jpg" for r in ranking["chosen"])
    for row in ranking["chosen"]:
        written = tmp_path / "next" / row["file"]
        assert written.is_file() and written.with_suffix(".json").is_file()
        if row["frame"] is not None:
            assert row["file"] == f"drive/frame_{row['frame']:06d}.jpg"
    report = convert_labelme(tmp_path / "next", tmp_path / "coco", keypoints=NAMES, val_ratio=0)
    assert report.files_converted == 6 and not report.skipped


def test_refusals_come_before_any_scoring(model, tmp_path):
    pool = _pool(tmp_path / "pool", 3, seed=1)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    base = ["suggest", pool, "--model", model, "--backend", "onnxruntime", "--whole-image", "--no-progress"]
    for out, words in ((tmp_path / "busy", "not empty"), (pool / "next", "lies inside")):
        result = run_cli(*base, "--out", out)
        assert result.exit_code == 1 and words in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine" and not (pool / "next").exists()
    missing = run_cli(*base, "--out", tmp_path / "x", "--exclude", tmp_path / "nope")
    assert missing.exit_code == 1 and "--exclude" in missing.stderr and not (tmp_path / "x").exists()
    no_det = run_cli("suggest", pool, "--out", tmp_path / "y", "--model", model, "--backend", "onnxruntime")
    assert no_det.exit_code == 1 and "--whole-image" in no_det.stderr
    assert json.loads(json.dumps(sorted(p.name for p in tmp_path.iterdir()))) == ["busy", "pool"]
