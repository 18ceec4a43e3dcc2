"""``mmpx suggest`` when the box source finds nothing in some candidates: every strategy runs,
and a detector miss ranks above every candidate with an instance (a miss is what a labeller should look at).

The box source is real and torch-free: background subtraction against a blank frame, which finds the cars on
car images and nothing on the blank image itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from mmpx.api import PoseEstimator
from mmpx.suggest.score import describe
from mmpx.synth.carpose import synth_carpose
from mmpx.synth.traffic import BackgroundBoxes
from tests.onnx_model import write_tiny_onnx

SIZE = 96


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """Eight synthetic car images and two blank ones (no labelme files)."""
    folder = tmp_path_factory.mktemp("pool") / "pool"
    synth_carpose(folder, 8, seed=3, size=SIZE, max_cars=1)
    for f in folder.glob("*.json"):
        f.unlink()
    (folder / ".mmpx-synth").unlink()
    for name in ("blank_a.png", "blank_b.png"):
        cv2.imwrite(str(folder / name), np.full((SIZE, SIZE, 3), 127, np.uint8))
    return folder


@pytest.fixture(scope="module")
def pose(tmp_path_factory) -> PoseEstimator:
    model = write_tiny_onnx(tmp_path_factory.mktemp("onnx") / "tiny.onnx", bias=2.0)
    boxes = BackgroundBoxes(np.full((SIZE, SIZE, 3), 127, np.uint8))
    return PoseEstimator(model, detector=boxes, flip_test=False)


def test_the_box_source_finds_cars_but_nothing_on_the_blank_image(pool, pose):
    for path in sorted(pool.iterdir()):
        found = len(pose.boxes(cv2.imread(str(path)))[0])
        assert (found == 0) == path.name.startswith("blank"), (path.name, found)


@pytest.mark.parametrize("strategy", ["diverse", "uncertainty", "random"])
def test_every_strategy_runs_and_misses_rank_as_most_uncertain(pool, pose, strategy, tmp_path):
    report = pose.suggest(pool, tmp_path / "next", n=4, strategy=strategy)
    assert report.candidates == 10 and report.without_instances == 2
    ranking = json.loads((tmp_path / "next" / "suggest.json").read_text())
    assert len(ranking["chosen"]) == 4
    misses = [r for r in ranking["chosen"] if r["instances"] == 0]
    if strategy == "uncertainty":  # both blanks, first
        assert [r["name"] for r in ranking["chosen"][:2]] == ["blank_a.png", "blank_b.png"]
    elif strategy == "diverse":  # the two identical blanks share a cluster: one of them, first
        assert ranking["chosen"][0]["name"].startswith("blank") and misses
    for row in misses:  # shown without the instance signals, above every candidate with an instance
        assert row["flip_disagreement"] is None and row["mean_score"] is None
        found = [r["uncertainty"] for r in ranking["chosen"] if r["instances"]]
        assert row["uncertainty"] > max(found, default=-1)
        prelabel = json.loads((tmp_path / "next" / row["file"]).with_suffix(".json").read_text())
        assert prelabel["shapes"] == []  # an empty pre-label: the labeller draws what the detector missed


def test_every_candidate_misses(pose, tmp_path):
    """Nothing found anywhere: the blanks are picked in order, each as uncertain as the other."""
    blanks = tmp_path / "blanks"
    blanks.mkdir()
    for i in range(5):
        cv2.imwrite(str(blanks / f"{i}.png"), np.full((SIZE, SIZE, 3), 127, np.uint8))
    for strategy in ("diverse", "uncertainty", "random"):
        report = pose.suggest(blanks, tmp_path / strategy, n=3, strategy=strategy)
        assert len(report.chosen) == 3 and {c.uncertainty for c in report.chosen} == {1.0}


def test_a_miss_is_described_with_a_feature_of_the_same_shape():
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), np.uint8)
    keypoints = np.zeros((4, 2))
    found = describe(image, keypoints + 10, np.array([0, 0, 30, 30]))
    missed = describe(image, keypoints, None)
    assert missed.shape == found.shape and not missed[-8:].any()  # a zero (neutral) pose block
    np.testing.assert_allclose(missed[:-8], found[:-8])
