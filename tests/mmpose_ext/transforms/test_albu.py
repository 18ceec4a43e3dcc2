"""albumentations 2: MMPose's own Albumentation transform through the compat layer, and AlbumentationsKeypoints
checked against where the pixels really went (a dot drawn at each keypoint is found again in the output)."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

import mmpose_ext  # noqa: F401  (compat fixes and registration first)
from mmpose_ext.registry import TRANSFORMS
from mmpx.errors import ConfigError
from mmpx.testing import carpose_data
from tests.helpers import mmpx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


@pytest.fixture(scope="module", autouse=True)
def _registered():
    from mmpose.utils import register_all_modules

    register_all_modules(init_default_scope=True)  # a dataset's pipeline names MMPose's transforms


def test_rtmpose_configs_albumentation_builds_with_its_1x_arguments():
    import mmpose
    from mmengine.config import Config

    cfg = Config.fromfile(os.path.join(os.path.dirname(mmpose.__file__), ".mim", "configs", "body_2d_keypoint",
                                       "rtmpose", "coco", "rtmpose-t_8xb256-420e_coco-256x192.py"))
    albu = next(t for t in cfg.train_pipeline if t["type"] == "Albumentation")
    transform = TRANSFORMS.build(albu)
    dropout = transform.aug.transforms[-1]
    assert type(dropout).__name__ == "CoarseDropout"
    assert (dropout.num_holes_range, dropout.hole_height_range, dropout.hole_width_range) == ((1, 1), (0.2, 0.4),
                                                                                            (0.2, 0.4))
    out = transform.transform(dict(img=np.full((256, 192, 3), 128, np.uint8)))
    assert 0.03 < (out["img"] != 128).any(axis=2).mean() < 0.17  # one hole of 20-40 % x 20-40 % of the image


def test_albumentation_repeats_under_numpys_seed_as_mmengine_seeds_it():
    """albumentations 2 has a generator of its own; mmengine's --seed must still repeat a run."""
    transform = TRANSFORMS.build(dict(type="Albumentation", transforms=[
        dict(type="CoarseDropout", max_holes=2, max_height=0.4, max_width=0.4, min_holes=1, p=1.0)]))

    def sample(seed: int) -> np.ndarray:
        np.random.seed(seed)
        return transform.transform(dict(img=np.full((64, 48, 3), 128, np.uint8)))["img"]

    np.testing.assert_array_equal(sample(0), sample(0))
    assert not np.array_equal(sample(0), sample(1))


def test_griddropout_and_a_missing_minimum_translate_as_1x_meant():
    from mmpose_ext.compat.albumentations import build

    grid = build(dict(type="GridDropout", unit_size_min=10, unit_size_max=40, random_offset=True, p=0.5))
    assert grid.unit_size_range == (10, 40)
    holes = build(dict(type="CoarseDropout", max_holes=3, max_height=8, max_width=8, p=1.0))
    assert (holes.num_holes_range, holes.hole_height_range) == ((3, 3), (8, 8))


@pytest.mark.parametrize("cfg, message", [
    (dict(type="Blur", blur_limt=3), "'blur_limt' are not valid for transform Blur"),
    (dict(type="NoSuchBlur"), "albumentations has no transform 'NoSuchBlur'"),
    (dict(type="Blur", blur_limit="big"), "albumentations Blur(blur_limit)"),
])
def test_arguments_albumentations_would_drop_are_errors(cfg, message):
    with pytest.raises(ConfigError) as err:
        TRANSFORMS.build(dict(type="Albumentation", transforms=[cfg]))
    assert message in str(err.value)


# --- AlbumentationsKeypoints ------------------------------------------------------------------------------

SIZE = 96
POINTS = np.array([[[20.0, 30.0], [70.0, 25.0], [50.0, 75.0]]], np.float32)  # (1 instance, 3 keypoints)
FLIP = [1, 0, 2]  # keypoints 0 and 1 are a left/right pair


def _dots(points: np.ndarray, size: int = SIZE) -> np.ndarray:
    """A black image with a small dot at each keypoint, keypoint i in colour channel i only (interpolation
    blurs a dot's edge but never turns it into another dot's colour)."""
    img = np.zeros((size, size, 3), np.uint8)
    for i, (x, y) in enumerate(points[0]):
        layer = np.ascontiguousarray(img[..., i])
        cv2.circle(layer, (round(float(x)), round(float(y))), 2, 255, -1)
        img[..., i] = layer
    return img


def _found(img: np.ndarray, i: int) -> np.ndarray | None:
    """Where dot ``i`` ended up (the centroid of the pixels of its colour), or None if it left the image."""
    weight = img[..., i].astype(float)
    if weight.sum() < 3 * 255:
        return None
    ys, xs = np.mgrid[: img.shape[0], : img.shape[1]]
    return np.array([(xs * weight).sum(), (ys * weight).sum()]) / weight.sum()


def _run(transforms, points=POINTS, size=SIZE, seed=0, **kwargs):
    t = TRANSFORMS.build(dict(type="AlbumentationsKeypoints", transforms=transforms, seed=seed, **kwargs))
    return t(dict(img=_dots(points, size), transformed_keypoints=points.copy(),
                  keypoints_visible=np.ones(points.shape[:2], np.float32), flip_indices=FLIP))


def test_a_flip_moves_keypoints_as_mmpose_flips_them_and_swaps_the_pair():
    from mmpose.structures.keypoint import flip_keypoints

    out = _run([dict(type="HorizontalFlip", p=1.0)])
    expected, _ = flip_keypoints(POINTS.copy(), np.ones((1, 3)), (SIZE, SIZE), FLIP)  # MMPose's own flip
    np.testing.assert_allclose(out["transformed_keypoints"], expected, atol=1e-4)
    for i in range(3):  # the dot drawn at keypoint i is where keypoint flip[i] now says
        np.testing.assert_allclose(_found(out["img"], i), out["transformed_keypoints"][0, FLIP[i]], atol=0.6)


@pytest.mark.parametrize("transform, mirrored", [
    (dict(type="Affine", rotate=(90, 90), p=1.0), False),
    (dict(type="Transpose", p=1.0), True),  # a reflection about the diagonal: the pair is swapped too
    (dict(type="Perspective", scale=(0.08, 0.1), keep_size=True, p=1.0), False),
    (dict(type="Affine", scale=(0.8, 0.8), shear=(10, 10), translate_px=(5, 5), p=1.0), False),
])
def test_keypoints_land_where_their_pixels_went(transform, mirrored):
    out = _run([transform])
    order = FLIP if mirrored else [0, 1, 2]
    for i in range(3):
        np.testing.assert_allclose(_found(out["img"], i), out["transformed_keypoints"][0, order[i]], atol=1.0)
    assert out["keypoints_visible"].tolist() == [[1, 1, 1]]


def test_a_90_degree_rotation_matches_the_rotation_matrix():
    out = _run([dict(type="Affine", rotate=(90, 90), p=1.0)])
    centre = (SIZE - 1) / 2
    x, y = POINTS[0, :, 0] - centre, POINTS[0, :, 1] - centre
    expected = np.stack([centre + y, centre - x], axis=1)  # 90 degrees counter-clockwise, image y down
    np.testing.assert_allclose(out["transformed_keypoints"][0], expected, atol=0.51)


def test_keypoints_that_leave_the_image_become_invisible_and_keep_their_place():
    out = _run([dict(type="Affine", translate_px=dict(x=(-40, -40), y=(0, 0)), p=1.0)])
    moved = out["transformed_keypoints"][0]
    np.testing.assert_allclose(moved, POINTS[0] - [40, 0], atol=0.51)  # not clipped onto the border
    assert out["keypoints_visible"].tolist() == [[0, 1, 1]] and moved[0, 0] < 0


def test_mirroring_needs_flip_indices_unless_told_not_to_swap():
    t = TRANSFORMS.build(dict(type="AlbumentationsKeypoints", transforms=[dict(type="HorizontalFlip", p=1.0)]))
    sample = dict(img=_dots(POINTS), transformed_keypoints=POINTS.copy(), keypoints_visible=np.ones((1, 3)))
    with pytest.raises(ConfigError, match="no flip_indices"):
        t(dict(sample))
    kept = _run([dict(type="HorizontalFlip", p=1.0)], swap_on_mirror=False)
    np.testing.assert_allclose(kept["transformed_keypoints"][0, :, 0], SIZE - 1 - POINTS[0, :, 0], atol=1e-4)


def test_on_a_whole_image_the_box_follows_and_must_come_before_the_centre():
    t = TRANSFORMS.build(dict(type="AlbumentationsKeypoints", transforms=[dict(type="HorizontalFlip", p=1.0)]))
    sample = dict(img=_dots(POINTS), keypoints=POINTS.copy(), keypoints_visible=np.ones((1, 3)), flip_indices=FLIP,
                  bbox=np.array([[10.0, 20.0, 80.0, 90.0]], np.float32))
    out = t(dict(sample))
    np.testing.assert_allclose(out["bbox"], [[SIZE - 1 - 80, 20, SIZE - 1 - 10, 90]], atol=1e-4)
    assert "transformed_keypoints" not in out
    with pytest.raises(ConfigError, match="before GetBBoxCenterScale"):
        t(dict(sample, bbox_center=np.array([[45.0, 55.0]])))


def test_the_same_seed_gives_the_same_sample():
    transforms = [dict(type="Affine", rotate=(-40, 40), scale=(0.7, 1.3), p=1.0)]
    a, b = _run(transforms, seed=3), _run(transforms, seed=3)
    np.testing.assert_array_equal(a["transformed_keypoints"], b["transformed_keypoints"])
    assert not np.array_equal(a["transformed_keypoints"], _run(transforms, seed=4)["transformed_keypoints"])


@pytest.fixture(scope="module")
def cars(tmp_path_factory):
    return carpose_data(tmp_path_factory.mktemp("cars"), n=6)


def _pipeline_config(tmp_path, data) -> str:
    config = tmp_path / "albu.py"
    config.write_text(f"""
_base_ = ['mmpx::carpose-quickstart']
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='TopdownAffine', input_size=(96, 96)),
    dict(type='AlbumentationsKeypoints', transforms=[
        dict(type='Affine', rotate=(-45, 45), p=1.0),
        dict(type='Perspective', scale=(0.05, 0.1), p=0.5),
        dict(type='HorizontalFlip', p=0.5)]),
    dict(type='GenerateTarget', encoder={{{{_base_.codec}}}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(data_root={str(data)!r}, pipeline=train_pipeline))
""".replace("{{{{_base_.codec}}}}", "dict(type='MSRAHeatmap', input_size=(96, 96), heatmap_size=(24, 24), sigma=1.5)"))
    return str(config)


def test_in_a_real_topdown_pipeline_on_car_images(cars, tmp_path):
    from mmpose.registry import DATASETS

    from mmpose_ext.config import load_config

    cfg = load_config(_pipeline_config(tmp_path, cars))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    sample = dataset[0]
    weights = sample["data_samples"].gt_instance_labels.keypoint_weights
    assert sample["inputs"].shape == (3, 96, 96) and weights.shape == (1, 8)


def test_browse_draws_the_transformed_samples(cars, tmp_path):
    result = mmpx("browse", _pipeline_config(tmp_path, cars), "--mode", "transformed", "--max", "3",
                  "--out-dir", str(tmp_path / "browse"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list((tmp_path / "browse").rglob("*.jpg"))) >= 3
