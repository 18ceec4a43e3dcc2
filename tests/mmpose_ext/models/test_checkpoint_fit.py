"""`mmpx test` and `mmpx train --resume` refuse a checkpoint that does not fit the config.

mmengine loads with ``strict=False`` and only logs the missing keys, so a checkpoint of another architecture or
keypoint count used to give random-weight metrics with exit code 0.
"""

from __future__ import annotations

import json

import pytest
import torch

import mmpose_ext  # noqa: F401  (fixes and registries before mmpose is imported)
from tests.helpers import mmpx, write_tiny_config

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

ENV = {"OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def setup(tmp_path_factory, tiny_coco):
    from mmpose.apis import init_model

    root = tmp_path_factory.mktemp("fit")
    config = write_tiny_config(root / "tiny.py", tiny_coco, max_epochs=1)
    model = init_model(str(config), None, device="cpu")
    state = model.state_dict()
    good = root / "good.pth"
    torch.save({"state_dict": state, "meta": {"dataset_meta": {"num_keypoints": 17}}}, good)
    eight = {k: (v[:8] if k.startswith("head.final_layer") else v) for k, v in state.items()}
    torch.save({"state_dict": eight, "meta": {"dataset_meta": {"num_keypoints": 8}}}, root / "eight.pth")
    torch.save({"state_dict": {"encoder.layer.0.weight": torch.zeros(3, 3)}}, root / "other.pth")
    partial = {k: v for k, v in state.items() if not k.startswith("head.")}
    torch.save({"state_dict": partial}, root / "no_head.pth")
    names = list(model.dataset_meta["keypoint_id2name"].values())
    swapped = names[:1] + [names[2], names[1]] + names[3:]  # left and right eye trained the other way round
    torch.save({"state_dict": state, "meta": {"dataset_meta": {"num_keypoints": 17, "keypoint_id2name": dict(
        enumerate(swapped))}}}, root / "swapped.pth")
    return root, config


@pytest.mark.parametrize("name, message", [
    ("eight.pth", "trained for 8 keypoints and the config's head predicts 17"),
    ("other.pth", "has no tensor named as in config"),
    ("no_head.pth", "lacks 5 parameter(s) of config"),
    ("swapped.pth", "keypoint 1 is 'right_eye' in the checkpoint and 'left_eye' in the data"),
])
def test_test_refuses_a_checkpoint_that_does_not_fit(setup, name, message):
    root, config = setup
    out = root / f"{name}.metrics.json"
    result = mmpx("test", str(config), str(root / name), "--work-dir", str(root / "w"), "--out", str(out), env=ENV)
    assert result.returncode == 1, result.stdout[-2000:]
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not out.exists() and "coco/AP" not in result.stdout


def test_test_accepts_the_checkpoint_it_was_made_for(setup):
    root, config = setup
    out = root / "good.metrics.json"
    result = mmpx("test", str(config), str(root / "good.pth"), "--work-dir", str(root / "w"), "--out", str(out),
                  env=ENV)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "coco/AP" in json.loads(out.read_text())


def test_resume_refuses_a_checkpoint_of_another_model(setup):
    root, config = setup
    result = mmpx("train", str(config), "--work-dir", str(root / "r"), "--resume", str(root / "eight.pth"),
                  "--trust-checkpoint", env=ENV)
    assert result.returncode == 1 and "does not fit config" in result.stderr, result.stderr[-2000:]
    assert not (root / "r" / "epoch_1.pth").exists()


def test_resume_refuses_weights_without_training_state(setup):
    """A release file (weights only) cannot be resumed: a clear line pointing at --load-from, not
    KeyError: 'message_hub'."""
    root, config = setup
    result = mmpx("train", str(config), "--work-dir", str(root / "r2"), "--resume", str(root / "good.pth"), env=ENV)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "holds weights but no training state" in result.stderr and "--load-from" in result.stderr


def test_keypoint_names_compared_by_order_then_by_name():
    from mmpose_ext.models.checkpoint_fit import check_keypoint_names
    from mmpx.errors import CheckpointError

    def meta(*names):
        return {"keypoint_id2name": dict(enumerate(names))}

    assert check_keypoint_names(meta("a", "b"), meta("a", "b"), "c.pth", "the data") is None
    assert check_keypoint_names(None, meta("a", "b"), "c.pth", "the data") is None  # an old checkpoint: no names
    assert check_keypoint_names(meta("a"), meta("a", "b"), "c.pth", "the data") is None  # the head's error says it
    with pytest.raises(CheckpointError, match="keypoint 0 is 'b' in the checkpoint and 'a' in the data"):
        check_keypoint_names(meta("b", "a"), meta("a", "b"), "c.pth", "the data")
    note = check_keypoint_names(meta("kpt_1", "kpt_2"), meta("chin", "nose"), "c.pth", "the data")
    assert "2 of 2 differ" in note and "'kpt_1' in the checkpoint, 'chin' in the data" in note
