"""RandomOcclusion: occluders pasted through exact masks, coverage flags checked against those masks pixel by pixel,
keypoints and visibility untouched, occluders inside the instance box, sizes and counts in their ranges, in a real
MMPose top-down pipeline on car images and drawn by ``mmpx browse``."""

from __future__ import annotations

import copy

import cv2
import numpy as np
import pytest
from mmpose.registry import TRANSFORMS

import mmpose_ext  # noqa: F401  (registration first)
from mmpx.errors import ConfigError
from mmpx.testing import carpose_data
from tests.helpers import mmpx

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose


@pytest.fixture(scope="module", autouse=True)
def _registered():
    from mmpose.utils import register_all_modules

    register_all_modules(init_default_scope=False)


def _build(**kwargs):
    return TRANSFORMS.build(dict(type="RandomOcclusion", **kwargs))


def _crop_sample(size=96, num_keypoints=400, seed=0) -> dict:
    """A crop (textured, so pasted pixels change it) with keypoints everywhere on it, some off it."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    points = rng.uniform(-4, size + 4, (1, num_keypoints, 2)).astype(np.float32)
    return dict(img=img, transformed_keypoints=points, keypoints_visible=np.ones((1, num_keypoints), np.float32))


def _check_masks(out: dict, before: np.ndarray) -> None:
    """The union of the occluders' masks is the recorded mask, pixels changed only there, flags = mask at each
    keypoint's pixel."""
    mask = out["occlusion_mask"]
    union = np.zeros_like(mask)
    for occ in out["occluders"]:
        x0, y0, x1, y1 = occ["window"]
        assert occ["mask"].shape == (y1 - y0, x1 - x0) and occ["mask"].any()
        union[y0:y1, x0:x1] |= occ["mask"]
    np.testing.assert_array_equal(union, mask)
    changed = (out["img"] != before).reshape(*mask.shape, -1).any(-1)
    assert not (changed & ~mask).any()  # nothing painted outside the masks
    assert changed.sum() > 0.8 * mask.sum()  # and the masks were painted (a random colour may match a pixel)
    points = out.get("transformed_keypoints", out.get("keypoints"))
    flags = out["keypoints_covered"]
    assert flags.shape == points.shape[:2] and flags.dtype == np.float32
    h, w = mask.shape
    for (x, y), flag in zip(points.reshape(-1, 2), flags.reshape(-1), strict=True):
        u, v = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
        expected = 0 <= u < w and 0 <= v < h and mask[v, u]
        assert flag == float(expected), (x, y, flag)


@pytest.mark.parametrize("kinds", [("polygon",), ("texture",), ("polygon", "texture", "object")])
def test_covered_flags_are_the_masks_at_each_keypoint_pixel(kinds):
    t = _build(prob=1.0, num_range=(2, 4), size_range=(0.2, 0.5), kinds=kinds, record_covered=True,
               record_masks=True, seed=1)
    covered = 0
    for i in range(6):  # 'object' needs earlier images in its bank
        sample = _crop_sample(seed=i)
        before = sample["img"].copy()
        points, visible = sample["transformed_keypoints"].copy(), sample["keypoints_visible"].copy()
        out = t(sample)
        _check_masks(out, before)
        np.testing.assert_array_equal(out["transformed_keypoints"], points)  # keypoints stay as they were
        np.testing.assert_array_equal(out["keypoints_visible"], visible)  # and remain targets
        covered += int(out["keypoints_covered"].sum())
    assert 0 < covered < 6 * 400


def test_whole_image_occluders_stay_in_their_instance_box():
    t = _build(prob=1.0, num_range=(1, 3), size_range=(0.1, 0.4), kinds=("polygon", "texture"),
               record_covered=True, record_masks=True, seed=2)
    boxes = np.array([[10.0, 20.0, 70.5, 60.0], [80.0, 5.0, 150.0, 110.0]], np.float32)
    rng = np.random.default_rng(0)
    for _ in range(20):
        img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
        keypoints = rng.uniform(0, 160, (2, 5, 2)).astype(np.float32)
        out = t(dict(img=img.copy(), keypoints=keypoints, keypoints_visible=np.ones((2, 5)), bbox=boxes.copy()))
        _check_masks(out, img)
        inside = np.zeros((120, 160), bool)
        for x0, y0, x1, y1 in boxes:
            inside[int(np.ceil(y0)):int(np.floor(y1)) + 1, int(np.ceil(x0)):int(np.floor(x1)) + 1] = True
        assert not (out["occlusion_mask"] & ~inside).any()
        for occ in out["occluders"]:
            bx0, by0, bx1, by1 = occ["box"]
            x0, y0, x1, y1 = occ["window"]
            assert bx0 <= x0 < x1 <= bx1 and by0 <= y0 < y1 <= by1
            assert (bx0, by0) == tuple(int(np.ceil(v)) for v in boxes[occ["instance"], :2])
        assert "transformed_keypoints" not in out


def test_on_the_crop_the_box_is_the_instance_box_as_topdown_affine_maps_it():
    steps = [TRANSFORMS.build(dict(type="GetBBoxCenterScale", padding=1.25)),
             TRANSFORMS.build(dict(type="TopdownAffine", input_size=(96, 96))),
             _build(prob=1.0, record_covered=True, record_masks=True, seed=5)]
    for keypoints in (np.array([[[520.0, 510.0], [880.0, 890.0]]], np.float32), None):  # none: still the crop
        sample = dict(img=np.zeros((1000, 1000, 3), np.uint8), bbox=np.array([[500.0, 500.0, 900.0, 900.0]]),
                      keypoints=keypoints, keypoints_visible=np.ones((1, 2), np.float32))
        for step in steps:
            sample = step(sample)
        assert sample["img"].shape == (96, 96, 3) and sample["occluders"]
        edge = 48 - 48 / 1.25  # the box fills the crop's middle 1 / padding
        for occ in sample["occluders"]:
            assert np.allclose(occ["box"], [edge, edge, 96 - edge, 96 - edge], atol=1.0), occ["box"]
    assert sample["keypoints_covered"].shape == (0, 0)


def test_sizes_and_counts_stay_in_their_ranges():
    lo, hi = 0.15, 0.35
    t = _build(prob=1.0, num_range=(2, 3), size_range=(lo, hi), kinds=("polygon", "texture"), record_masks=True,
               seed=3)
    counts, widths = set(), []
    for i in range(40):
        out = t(_crop_sample(size=100, num_keypoints=3, seed=i))
        counts.add(len(out["occluders"]))
        for occ in out["occluders"]:
            bx0, by0, bx1, by1 = occ["box"]
            x0, y0, x1, y1 = occ["window"]
            assert round(lo * (bx1 - bx0)) <= x1 - x0 <= round(hi * (bx1 - bx0))
            assert round(lo * (by1 - by0)) <= y1 - y0 <= round(hi * (by1 - by0))
            widths.append((x1 - x0) / (bx1 - bx0))
            if occ["kind"] == "polygon":  # a polygon spans its window: it touches all four sides
                m = occ["mask"]
                assert m[0].any() and m[-1].any() and m[:, 0].any() and m[:, -1].any()
    assert counts == {2, 3}
    assert min(widths) < lo + 0.05 and max(widths) > hi - 0.05  # the whole range is drawn
    assert _build(prob=0.0, record_masks=True, seed=0)(_crop_sample())["occluders"] == []
    some = [len(_build(prob=0.5, num_range=(1, 1), record_masks=True, seed=s)(_crop_sample())["occluders"])
            for s in range(40)]
    assert 8 < sum(some) < 32


def test_object_occluders_come_from_earlier_images_and_the_bank_is_bounded():
    t = _build(prob=1.0, num_range=(3, 3), size_range=(0.3, 0.5), kinds=("object",), record_masks=True,
               bank_size=4, seed=4)
    colours, seen_object = [], False
    for i in range(12):
        colour = 20 * i + 5  # one flat grey per image: a pasted crop shows which image it came from
        img = np.full((64, 64, 3), colour, np.uint8)
        out = t(dict(img=img, transformed_keypoints=np.zeros((1, 1, 2), np.float32),
                     keypoints_visible=np.ones((1, 1))))
        for occ in out["occluders"]:
            x0, y0, x1, y1 = occ["window"]
            pasted = out["img"][y0:y1, x0:x1][occ["mask"]]
            if i == 0:
                assert occ["kind"] == "texture"  # an empty bank: a texture instead
            else:
                assert occ["kind"] == "object"
                assert set(np.unique(pasted).tolist()) <= set(colours)  # later occluders may overlap it
                seen_object = True
        colours.append(colour)
        assert len(t._bank) == min(i + 1, 4)
    assert seen_object


def test_the_same_seed_repeats_and_no_seed_follows_numpy():
    def run(transform):
        return [transform(_crop_sample(seed=i))["img"] for i in range(3)]

    kwargs = dict(prob=1.0, kinds=("polygon", "texture", "object"))
    a, b, c = run(_build(seed=7, **kwargs)), run(_build(seed=7, **kwargs)), run(_build(seed=8, **kwargs))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))
    np.random.seed(5)
    d = run(_build(**kwargs))
    np.random.seed(5)
    e = run(_build(**kwargs))
    assert all(np.array_equal(x, y) for x, y in zip(d, e, strict=True))


@pytest.mark.parametrize("kwargs, message", [
    (dict(size_range=(0.0, 0.3)), "size_range must lie in (0, 1]"),
    (dict(size_range=(0.2, 1.5)), "size_range must lie in (0, 1]"),
    (dict(size_range=(0.5, 0.2)), "size_range has min > max"),
    (dict(kinds=()), "kinds is empty"),
    (dict(kinds=("polygon", "blob")), "unknown kind(s) 'blob'"),
    (dict(num_range=(3, 1)), "num_range has min > max"),
    (dict(num_range=(-1, 2)), "num_range must not be negative"),
    (dict(num_range=3), "num_range must be a pair"),
    (dict(prob=1.5), "prob must be between 0 and 1"),
    (dict(bank_size=0), "bank_size must be at least 1"),
])
def test_bad_arguments_are_config_errors(kwargs, message):
    with pytest.raises(ConfigError) as err:
        _build(**kwargs)
    assert message in str(err.value) and err.value.hint


# --- in MMPose's top-down pipeline on car images ------------------------------------------------------------

OCCLUSION = dict(type="RandomOcclusion", prob=1.0, num_range=(1, 3), size_range=(0.15, 0.4),
                 kinds=("polygon", "texture", "object"), record_covered=True, record_masks=True, seed=0)


@pytest.fixture(scope="module")
def cars(tmp_path_factory):
    return carpose_data(tmp_path_factory.mktemp("cars"), n=8)


@pytest.fixture(scope="module")
def quickstart_pipeline():
    from mmpose_ext.config import load_config

    return load_config("carpose-quickstart").to_dict()["train_pipeline"]


def _with_occlusion(pipeline: list, after: str = "TopdownAffine", occlusion: dict = OCCLUSION) -> list:
    pipeline = copy.deepcopy(pipeline)
    at = next(i for i, step in enumerate(pipeline) if step["type"] == after) + 1
    return pipeline[:at] + [dict(occlusion)] + pipeline[at:]


def _dataset(data, pipeline):
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS

    init_default_scope("mmpose")
    return DATASETS.build(dict(type="CarPoseDataset", data_root=str(data), data_mode="topdown",
                               data_prefix=dict(img="images/"), ann_file="annotations/train.json",
                               pipeline=pipeline))


def test_after_topdown_affine_in_the_quickstart_pipeline(cars, quickstart_pipeline):
    unpacked = [s for s in _with_occlusion(quickstart_pipeline) if s["type"] != "PackPoseInputs"]
    dataset = _dataset(cars, unpacked)
    plain = _dataset(cars, [s for s in quickstart_pipeline if s["type"] != "PackPoseInputs"])
    total = 0
    for i in range(len(dataset)):
        np.random.seed(i)  # the same flip and box jitter with and without occlusion (it has its own seed)
        out = dataset[i]
        np.random.seed(i)
        ref = plain[i]
        assert out["img"].shape == (96, 96, 3)
        mask = out["occlusion_mask"]
        assert mask.shape == (96, 96) and mask.any()
        points, visible = out["transformed_keypoints"], out["keypoints_visible"]
        for (x, y), flag in zip(points.reshape(-1, 2), out["keypoints_covered"].reshape(-1), strict=True):
            u, v = int(np.floor(x + 0.5)), int(np.floor(y + 0.5))
            assert flag == float(0 <= u < 96 and 0 <= v < 96 and mask[v, u])
        total += int(out["keypoints_covered"].sum())
        for occ in out["occluders"]:  # inside the car's box as mapped into the crop, itself inside the crop
            bx0, by0, bx1, by1 = occ["box"]
            x0, y0, x1, y1 = occ["window"]
            assert 0 <= bx0 <= x0 < x1 <= bx1 <= 96 and 0 <= by0 <= y0 < y1 <= by1 <= 96
            on = (visible[0] > 0) & (points[0, :, 0] >= 0) & (points[0, :, 0] < 96)
            on &= (points[0, :, 1] >= 0) & (points[0, :, 1] < 96)
            assert (points[0, on, 0] >= bx0 - 1.5).all() and (points[0, on, 0] <= bx1 + 0.5).all()  # the box is
            assert (points[0, on, 1] >= by0 - 1.5).all() and (points[0, on, 1] <= by1 + 0.5).all()  # the car's
        # keypoints, visibility and target weights are those of the same sample without occlusion
        for key in ("transformed_keypoints", "keypoints_visible", "keypoint_weights"):
            np.testing.assert_array_equal(out[key], ref[key])
        assert (out["img"] != ref["img"]).any(-1).sum() > 0.8 * mask.sum()
    assert total > 0
    packed = _dataset(cars, _with_occlusion(quickstart_pipeline))[0]
    assert packed["inputs"].shape == (3, 96, 96)
    assert packed["data_samples"].gt_instance_labels.keypoint_weights.shape == (1, 8)


def test_before_topdown_affine_on_the_whole_image(cars, quickstart_pipeline):
    pipeline = [s for s in _with_occlusion(quickstart_pipeline, after="GetBBoxCenterScale")
                if s["type"] != "PackPoseInputs"]
    dataset = _dataset(cars, pipeline)
    out = dataset[1]
    assert out["occluders"] and out["occlusion_mask"].shape == (128, 128)  # drawn on the 128-px image
    x0, y0, x1, y1 = dataset.get_data_info(1)["bbox"][0]  # as annotated (RandomFlip later flips out["bbox"])
    assert {occ["box"] for occ in out["occluders"]} == {(np.ceil(x0), np.ceil(y0), np.floor(x1) + 1, np.floor(y1) + 1)}
    ys, xs = np.nonzero(out["occlusion_mask"])
    assert xs.min() >= np.ceil(x0) and xs.max() <= x1 and ys.min() >= np.ceil(y0) and ys.max() <= y1
    assert out["keypoints_covered"].shape == (1, 8) and out["img"].shape == (96, 96, 3)


def _browse_config(tmp_path, data, pipeline, name) -> str:
    config = tmp_path / f"{name}.py"
    config.write_text(f"_base_ = ['mmpx::carpose-quickstart']\ntrain_pipeline = {pipeline!r}\n"
                      f"train_dataloader = dict(dataset=dict(data_root={str(data)!r}, pipeline=train_pipeline))\n")
    return str(config)


def test_browse_draws_the_occluders(cars, quickstart_pipeline, tmp_path):
    from mmpose_ext.visual.browse import browse

    occlusion = dict(OCCLUSION, record_masks=False, record_covered=False)
    config = _browse_config(tmp_path, cars, _with_occlusion(quickstart_pipeline, occlusion=occlusion), "occluded")
    result = mmpx("browse", config, "--mode", "transformed", "--max", "3", "--out-dir", str(tmp_path / "occluded"))
    assert result.returncode == 0, result.stderr[-2000:]
    occluded = tmp_path / "occluded" / "train_transformed"
    # the same pipeline without RandomOcclusion, same seed (in this process: what `mmpx browse` runs)
    plain = browse(_browse_config(tmp_path, cars, quickstart_pipeline, "plain"), mode="transformed", max_samples=3,
                   out_dir=tmp_path / "plain").folder
    names = sorted(p.name for p in plain.glob("*.jpg"))
    assert names == sorted(p.name for p in occluded.glob("*.jpg")) and len(names) == 4  # 3 + the contact sheet
    for file in names:
        a, b = (cv2.imread(str(folder / file)).astype(int) for folder in (plain, occluded))
        assert a.shape == b.shape
        assert (np.abs(a - b).max(-1) > 40).mean() > 0.005  # same seed, same crops: the occluders differ
