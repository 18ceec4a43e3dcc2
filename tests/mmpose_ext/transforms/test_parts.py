"""RandomPartCrop (a random connected part of any skeleton) and KeypointMapping (keypoint sets mapped by name)."""

from __future__ import annotations

import ast
import doctest
from pathlib import Path

import cv2
import numpy as np
import pytest
from mmengine.registry import DefaultScope
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.datasets.transforms import KeypointConverter, RandomFlip

import mmpose_ext  # noqa: F401  (registers the transforms and CarPoseDataset)
from mmpose_ext.datasets.carpose import CARPOSE_METAINFO
from mmpose_ext.registry import DATASETS, TRANSFORMS
from mmpx.errors import ConfigError
from mmpx.metainfo import build_metainfo, write_metainfo
from mmpx.metainfo.mapping import resolve_metainfo_path
from mmpx.testing import carpose_data
from tests.helpers import mmpx

pytestmark = pytest.mark.stack
CAR = parse_pose_metainfo(dict(from_file=CARPOSE_METAINFO))
COCO = parse_pose_metainfo(dict(from_file=str(resolve_metainfo_path("mmpose::_base_/datasets/coco.py"))))
FRONT = ["left_front_bumper", "right_front_bumper", "left_front_tire", "right_front_tire"]
LEFT = ["left_front_bumper", "left_rear_bumper", "left_front_tire", "left_rear_tire"]
# a car seen from its front-left, all 8 keypoints in a 100x60 box at (20, 30)
CAR_XY = np.array([[[20, 60], [70, 62], [60, 35], [110, 36], [35, 80], [80, 82], [75, 55], [118, 57]]], np.float32)


def car_sample(visible=None) -> dict:
    vis = np.ones((1, 8), np.float32) if visible is None else np.asarray([visible], np.float32)
    return dict(keypoints=CAR_XY.copy(), keypoints_visible=vis, bbox_center=np.array([[70., 60.]], np.float32),
                bbox_scale=np.array([[125., 75.]], np.float32), skeleton_links=list(CAR["skeleton_links"]),
                upper_body_ids=[], lower_body_ids=[], flip_indices=list(CAR["flip_indices"]))


def connected(ids, links) -> bool:
    ids = set(ids)
    seen, todo = {min(ids)}, [min(ids)]
    while todo:
        node = todo.pop()
        for a, b in links:
            for u, v in ((a, b), (b, a)):
                if u == node and v in ids and v not in seen:
                    seen.add(v)
                    todo.append(v)
    return seen == ids


def crop_with_seed(t, sample: dict, seed: int):
    """The part the transform chooses with this seed, and its output on a copy of the sample."""
    np.random.seed(seed)
    (ids,) = t.select_parts(sample)
    np.random.seed(seed)
    return ids, t({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sample.items()})


def test_docstring_examples():
    from mmpose_ext.transforms import keypoint_mapping, part_crop

    for module in (part_crop, keypoint_mapping):
        assert doctest.testmod(module).failed == 0, module.__name__


# --- RandomPartCrop ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("visible", [None, [1, 1, 0, 1, 1, 0, 1, 1], [1, 1, 1, 1, 0, 0, 0, 0]])
def test_grown_part_is_connected_and_the_box_is_its_padded_extent(visible):
    t = TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, min_fraction=0.3, max_fraction=0.7, padding=1.5))
    sample = car_sample(visible)
    vis = sample["keypoints_visible"][0] > 0
    sizes, parts = set(), set()
    for seed in range(40):
        ids, out = crop_with_seed(t, sample, seed)
        assert ids is not None and all(vis[i] for i in ids)  # visible keypoints only
        # connected over the skeleton's links between visible keypoints
        visible_links = [(a, b) for a, b in CAR["skeleton_links"] if vis[a] and vis[b]]
        assert connected(ids, visible_links), ids
        assert 2 <= len(ids) < vis.sum()  # a part, never the whole
        xy = CAR_XY[0, ids]
        low, high = xy.min(0), xy.max(0)
        np.testing.assert_allclose(out["bbox_center"][0], (low + high) / 2, rtol=1e-6)
        np.testing.assert_allclose(out["bbox_scale"][0], (high - low) * 1.5, rtol=1e-6)
        sizes.add(len(ids))
        parts.add(tuple(ids))
    n = int(vis.sum())
    assert sizes <= set(range(max(2, round(0.3 * n)), round(0.7 * n) + 1))
    if n == 4:  # the four bumper corners: only the front and the rear bumper are linked
        assert parts == {(0, 1), (2, 3)}
    else:
        assert len(parts) > 5


def test_prob_zero_and_too_few_visible_keypoints_leave_the_sample_unchanged():
    sample = car_sample()
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in sample.items()}
    out = TRANSFORMS.build(dict(type="RandomPartCrop", prob=0.0))(sample)
    for key, value in before.items():
        np.testing.assert_array_equal(out[key], value)
    t = TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, min_keypoints=2))
    for visible in ([1, 0, 0, 0, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0, 1]):  # 1 visible; 2 (< min_total 3)
        out = t(car_sample(visible))
        np.testing.assert_array_equal(out["bbox_center"], [[70., 60.]])
        np.testing.assert_array_equal(out["bbox_scale"], [[125., 75.]])
    # two visible but not linked to each other: no connected part of 2
    t = TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, min_total_keypoints=2))
    assert t.select_parts(car_sample([1, 0, 0, 0, 0, 0, 0, 1])) == [None]


def test_named_car_parts_front_and_left():
    t = TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, metainfo=dict(from_file=CARPOSE_METAINFO),
                              parts=dict(front=FRONT, left=LEFT), padding=1.2))
    names = CAR["keypoint_id2name"]
    chosen = set()
    for seed in range(20):
        ids, out = crop_with_seed(t, car_sample(), seed)
        chosen.add(tuple(names[i] for i in ids))
        xy = CAR_XY[0, ids]
        np.testing.assert_allclose(out["bbox_scale"][0], (xy.max(0) - xy.min(0)) * 1.2, rtol=1e-6)
    assert chosen == {tuple(sorted(FRONT, key=lambda n: CAR["keypoint_name2id"][n])),
                      tuple(sorted(LEFT, key=lambda n: CAR["keypoint_name2id"][n]))}
    # left side hidden (1 visible keypoint of it): only the front qualifies, and only its visible keypoints count
    ids, _ = crop_with_seed(t, car_sample([1, 1, 0, 1, 0, 1, 0, 1]), 0)
    assert [names[i] for i in ids] == ["left_front_bumper", "right_front_bumper", "right_front_tire"]


def test_upper_and_lower_groups_as_random_half_body():
    t = TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, parts=["upper", "lower"], min_keypoints=3))
    rng = np.random.default_rng(0)
    sample = dict(keypoints=rng.uniform(0, 100, (1, 17, 2)), keypoints_visible=np.ones((1, 17)),
                  bbox_center=np.array([[50., 50.]]), bbox_scale=np.array([[100., 100.]]),
                  upper_body_ids=COCO["upper_body_ids"], lower_body_ids=COCO["lower_body_ids"])
    seen = {tuple(crop_with_seed(t, sample, seed)[0]) for seed in range(10)}
    assert seen == {tuple(COCO["upper_body_ids"]), tuple(COCO["lower_body_ids"])}


def test_part_config_errors():
    with pytest.raises(ConfigError, match="no metainfo"):
        TRANSFORMS.build(dict(type="RandomPartCrop", parts=dict(front=FRONT)))
    with pytest.raises(ConfigError, match="'hood' is not a keypoint"):
        TRANSFORMS.build(dict(type="RandomPartCrop", metainfo=CARPOSE_METAINFO, parts=dict(front=["hood"])))
    with pytest.raises(ConfigError, match="group name"):
        TRANSFORMS.build(dict(type="RandomPartCrop", parts=["middle"]))
    with pytest.raises(ConfigError, match="no keypoint of type 'upper'"):  # the car metainfo has no body groups
        TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, parts=["upper"]))(car_sample())
    with pytest.raises(ConfigError, match="no skeleton_links"):
        TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0))({**car_sample(), "skeleton_links": []})
    with pytest.raises(ConfigError, match="17 keypoints, the sample has 8"):
        TRANSFORMS.build(dict(type="RandomPartCrop", prob=1.0, metainfo="mmpose::_base_/datasets/coco.py"))(
            car_sample())


@pytest.fixture(scope="module")
def car_root(tmp_path_factory) -> Path:
    return carpose_data(tmp_path_factory.mktemp("parts"), n=8, size=128)


def car_dataset(root: Path, pipeline: list):
    with DefaultScope.overwrite_default_scope("mmpose"):  # the pipeline's types are looked up in MMPose's scope
        return DATASETS.build(dict(type="CarPoseDataset", data_root=str(root), data_mode="topdown",
                                   ann_file="annotations/train.json", data_prefix=dict(img="images/"),
                                   pipeline=pipeline))


def test_part_crop_in_a_topdown_pipeline_on_car_images(car_root):
    codec = dict(type="MSRAHeatmap", input_size=(96, 96), heatmap_size=(24, 24), sigma=1.5)
    crop = dict(type="RandomPartCrop", prob=1.0, padding=1.3)
    head = [dict(type="LoadImage"), dict(type="GetBBoxCenterScale")]
    tail = [dict(type="TopdownAffine", input_size=codec["input_size"]), dict(type="GenerateTarget", encoder=codec)]
    dataset = car_dataset(car_root, head + [crop] + tail + [dict(type="PackPoseInputs")])
    packed = dataset[0]
    assert tuple(packed["inputs"].shape) == (3, 96, 96)
    assert packed["data_samples"].gt_fields.heatmaps.shape == (8, 24, 24)
    before, crop_t = car_dataset(car_root, head), TRANSFORMS.build(crop)
    after = [TRANSFORMS.build(t) for t in tail]
    cut_off = 0
    for index in range(len(before)):
        sample = before[index]
        ids, out = crop_with_seed(crop_t, sample, index)
        if ids is None:
            continue
        for t in after:
            out = t(out)
        assert connected(ids, sample["skeleton_links"])
        inside = (out["transformed_keypoints"][0] >= 0).all(1) & (out["transformed_keypoints"][0] < 96).all(1)
        assert inside[ids].all()  # the part is in the network input, away from its border (padding)
        assert (out["keypoint_weights"][0, ids] > 0).all()
        # keypoints cut off teach nothing once their Gaussian is off the heatmap (3 sigma = 18 input pixels)
        weights, visible = out["keypoint_weights"][0], out["keypoints_visible"][0] > 0
        xy = out["transformed_keypoints"][0]
        far = ((xy < -18) | (xy >= 96 + 18)).any(1)
        assert (weights[visible & far] == 0).all()
        cut_off += int((visible & (weights == 0)).sum())
    assert cut_off > 0


def test_browse_draws_a_pipeline_with_part_crops(car_root, tmp_path):
    config = tmp_path / "part_crop.py"
    config.write_text(f"""
_base_ = ['mmpx::carpose-quickstart']
data_root = {str(car_root) + '/'!r}
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root, pipeline=[
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale'),
    dict(type='RandomPartCrop', prob=1.0),
    dict(type='TopdownAffine', input_size=(96, 96)),
    dict(type='GenerateTarget', encoder=dict(type='MSRAHeatmap', input_size=(96, 96), heatmap_size=(24, 24),
                                             sigma=1.5)),
    dict(type='PackPoseInputs'),
]))
""")
    result = mmpx("browse", str(config), "--mode", "transformed", "--max", "4", "--out-dir", str(tmp_path / "out"),
                  timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    images = sorted((tmp_path / "out" / "train_transformed").glob("*.jpg"))
    assert len(images) == 5  # 4 samples and the contact sheet
    assert all(cv2.imread(str(p)) is not None for p in images)


# --- KeypointMapping ---------------------------------------------------------------------------------------------


@pytest.fixture
def face_file(tmp_path) -> Path:
    """A 6-keypoint face: COCO's eyes and ears reordered and renamed, a nose under an alias, and a chin."""
    info = build_metainfo("face", ["Right-Eye", "LEFT_EYE", "snout", "chin", "right_ear", "left_ear"],
                          swaps={"Right-Eye": "LEFT_EYE", "right_ear": "left_ear"},
                          joint_weights=[1.0, 1.0, 1.5, 2.0, 1.0, 1.0])
    path = tmp_path / "face.py"
    write_metainfo(path, info)
    return path


def test_mapping_matches_keypoint_converter_with_the_hand_written_mapping(face_file):
    t = TRANSFORMS.build(dict(type="KeypointMapping", source="configs/_base_/datasets/coco.py",
                              target=str(face_file), aliases=dict(nose="snout")))
    hand_written = [(2, 0), (1, 1), (0, 2), (4, 4), (3, 5)]  # COCO: 0 nose, 1/2 left/right eye, 3/4 left/right ear
    assert t.mapping == hand_written
    rng = np.random.default_rng(1)
    sample = dict(keypoints=rng.uniform(0, 200, (2, 17, 2)), keypoints_visible=rng.integers(0, 2, (2, 17)) * 1.0,
                  flip_indices=list(COCO["flip_indices"]))
    ours = t({k: v.copy() for k, v in sample.items()})
    theirs = KeypointConverter(num_keypoints=6, mapping=hand_written)({k: v.copy() for k, v in sample.items()})
    np.testing.assert_array_equal(ours["keypoints"], theirs["keypoints"])
    np.testing.assert_array_equal(ours["keypoints_visible"], theirs["keypoints_visible"])
    assert ours["keypoints"].shape == (2, 6, 2) and ours["keypoints_visible"].shape == (2, 6, 2)
    assert (ours["keypoints_visible"][:, 3] == 0).all()  # the chin: invisible, weight 0
    # the target's metainfo, as MMPose parses it (KeypointConverter would leave COCO's 17 flip indices)
    face = parse_pose_metainfo(dict(from_file=str(face_file)))
    assert ours["flip_indices"] == face["flip_indices"] == [1, 0, 2, 3, 5, 4]
    assert ours["flip_pairs"] == face["flip_pairs"]
    np.testing.assert_array_equal(ours["dataset_keypoint_weights"], face["dataset_keypoint_weights"])
    # a flip after the mapping swaps the face's own left and right
    flipped = RandomFlip(prob=1.0)({**ours, "img": np.zeros((10, 200, 3), np.uint8), "img_shape": (10, 200),
                                    "keypoints": ours["keypoints"].copy()})
    np.testing.assert_allclose(flipped["keypoints"][0, 0, 0], 199 - ours["keypoints"][0, 1, 0])


def _body8_mappings() -> dict:
    """MMPose's hand-written ``KeypointConverter`` mappings to COCO in its RTMPose body8 config."""
    path = resolve_metainfo_path("mmpose::body_2d_keypoint/rtmpose/body8/rtmpose-m_8xb256-420e_body8-256x192.py")
    tree = ast.parse(path.read_text())
    return {node.targets[0].id[:-len("_coco")]: ast.literal_eval(node.value) for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.endswith("_coco") and isinstance(node.value, ast.List)}


@pytest.mark.parametrize("name, metainfo", [("aic", "aic"), ("crowdpose", "crowdpose"), ("mpii", "mpii"),
                                            ("jhmdb", "jhmdb"), ("halpe", "halpe"), ("ochuman", "ochuman"),
                                            ("posetrack", "posetrack18")])
def test_names_give_mmpose_own_hand_written_mappings(name, metainfo):
    t = TRANSFORMS.build(dict(type="KeypointMapping", source=f"mmpose::_base_/datasets/{metainfo}.py",
                              target="mmpose::_base_/datasets/coco.py"))
    assert sorted(t.mapping) == sorted(_body8_mappings()[name])


def test_mapping_report_is_logged_once_per_transform(face_file, monkeypatch):
    import mmengine.logging

    lines = []
    monkeypatch.setattr(mmengine.logging, "print_log", lambda msg, *args, **kwargs: lines.append(msg))
    t = TRANSFORMS.build(dict(type="KeypointMapping", source="mmpose::_base_/datasets/coco.py",
                              target=dict(from_file=str(face_file)), aliases=dict(nose="snout")))
    for _ in range(3):
        t(dict(keypoints=np.zeros((1, 17, 2)), keypoints_visible=np.ones((1, 17))))
    lines = [line for line in lines if line.startswith("KeypointMapping coco.py")]
    assert len(lines) == 1
    assert lines[0].startswith("KeypointMapping coco.py -> face.py: kept 5 of 6: right_eye->Right-Eye, "
                               "left_eye->LEFT_EYE, nose->snout, right_ear, left_ear;")
    assert "dropped from source (12): left_shoulder, right_shoulder," in lines[0]
    assert lines[0].endswith("missing in target, left invisible (1): chin")


def test_mapping_errors(face_file):
    with pytest.raises(ConfigError, match="no keypoint of coco.py matches") as err:
        TRANSFORMS.build(dict(type="KeypointMapping", source="mmpose::_base_/datasets/coco.py",
                              target=CARPOSE_METAINFO))
    assert "left_front_bumper" in str(err.value) and "left_shoulder" in str(err.value)
    t = TRANSFORMS.build(dict(type="KeypointMapping", source=CARPOSE_METAINFO, target=CARPOSE_METAINFO))
    with pytest.raises(ConfigError, match="expects 8 keypoints"):
        t(dict(keypoints=np.zeros((1, 17, 2)), keypoints_visible=np.ones((1, 17))))


def test_mapping_in_a_combined_dataset_of_car_images(car_root, tmp_path):
    """MMPose's way: the mapping in the sub-dataset's pipeline, the CombinedDataset on the target's metainfo."""
    tires = tmp_path / "tires.py"
    names = ["right_rear_tire", "left_rear_tire", "right_front_tire", "left_front_tire"]
    write_metainfo(tires, build_metainfo("tires", names, skeleton=[("left_front_tire", "left_rear_tire")]))
    codec = dict(type="MSRAHeatmap", input_size=(96, 96), heatmap_size=(24, 24), sigma=1.5)
    sub = dict(type="CarPoseDataset", data_root=str(car_root), data_mode="topdown",
               ann_file="annotations/train.json", data_prefix=dict(img="images/"),
               pipeline=[dict(type="KeypointMapping", source=CARPOSE_METAINFO, target=str(tires))])
    pipeline = [dict(type="LoadImage"), dict(type="GetBBoxCenterScale"), dict(type="RandomFlip", prob=1.0),
                dict(type="TopdownAffine", input_size=(96, 96)), dict(type="GenerateTarget", encoder=codec),
                dict(type="PackPoseInputs")]
    with DefaultScope.overwrite_default_scope("mmpose"):
        combined = [DATASETS.build(dict(type="CombinedDataset", metainfo=dict(from_file=str(tires)), datasets=[sub],
                                        pipeline=p)) for p in ([], pipeline)]
    raw = car_dataset(car_root, [])
    for index in range(2):
        out, sample = combined[0][index], raw[index]
        np.testing.assert_array_equal(out["keypoints"], sample["keypoints"][:, [7, 6, 5, 4]])
        assert out["flip_indices"] == [1, 0, 3, 2] and out["skeleton_links"] == [(3, 1)]
        packed = combined[1][index]["data_samples"]
        assert packed.gt_fields.heatmaps.shape == (4, 24, 24) and packed.gt_instances.keypoints.shape == (1, 4, 2)
        # flipped: the car's left rear tire (target index 1) is where the image shows its right rear tire
        width = cv2.imread(sample["img_path"]).shape[1]
        flipped = packed.gt_instances.keypoints[0]
        np.testing.assert_allclose(flipped[1], [width - 1 - sample["keypoints"][0, 7, 0], sample["keypoints"][0, 7, 1]],
                                   atol=1e-4)
