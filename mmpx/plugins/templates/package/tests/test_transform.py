"""The transform: built by name as a config builds it, doing what it says to the image and nothing else."""

import numpy as np
import pytest


@pytest.fixture(scope="module")
def transforms():
    import mmpose_ext  # noqa: F401  (fixes for today's packages first)
    from mmpose.registry import TRANSFORMS

    import __PKG__.transforms  # noqa: F401  (registers __PREFIX__Grayscale)

    return TRANSFORMS


def _sample():
    rng = np.random.default_rng(0)
    keypoints = np.array([[[4.0, 5.0], [9.0, 2.0]]], np.float32)
    return dict(img=rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), keypoints=keypoints.copy())


def test_turns_the_image_grey_and_leaves_the_keypoints(transforms):
    sample = _sample()
    out = transforms.build(dict(type="__PREFIX__Grayscale", prob=1.0))(dict(sample))
    assert out["img"].shape == sample["img"].shape and out["img"].dtype == np.uint8
    assert (out["img"][..., 0] == out["img"][..., 1]).all() and (out["img"][..., 1] == out["img"][..., 2]).all()
    assert np.array_equal(out["keypoints"], sample["keypoints"])


def test_prob_zero_changes_nothing(transforms):
    sample = _sample()
    out = transforms.build(dict(type="__PREFIX__Grayscale", prob=0.0))(dict(sample))
    assert np.array_equal(out["img"], sample["img"])


def test_refuses_a_prob_outside_zero_to_one(transforms):
    with pytest.raises(ValueError, match="between 0 and 1"):
        transforms.build(dict(type="__PREFIX__Grayscale", prob=1.5))
