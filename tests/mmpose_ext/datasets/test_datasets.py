"""CarPoseDataset and HumanArtScenesDataset, built through MMPose's registry as a config would build them."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from mmengine.logging import MessageHub

import mmpose_ext  # noqa: F401  (registers the datasets)
from mmpose_ext.datasets import CARPOSE_METAINFO, GROUP_OF, GROUPS, SCENES, normalize_scene
from mmpose_ext.registry import DATASETS
from mmpx.errors import MmpxError
from mmpx.metainfo import infer_swaps, keypoint_names, load_metainfo
from tests.helpers import ROOT, run

pytestmark = pytest.mark.stack  # the whole module needs torch and mmpose

HUMANART = "mmpose-testdata/humanart"
CAR_KEYPOINTS = ["left_front_bumper", "right_front_bumper", "left_rear_bumper", "right_rear_bumper",
                 "left_front_tire", "right_front_tire", "left_rear_tire", "right_rear_tire"]


@pytest.fixture(scope="module")
def humanart(shared_data) -> Path:
    return shared_data / HUMANART


@pytest.fixture(scope="module")
def expected(humanart) -> dict:
    """Image ids per scenario and per group, from the folders in ``file_name`` (not from ``category``)."""
    doc = json.loads((humanart / "test_humanart.json").read_text())
    by_scene, by_group = defaultdict(set), defaultdict(set)
    for img in doc["images"]:
        *_, group, scene, _ = img["file_name"].split("/")
        by_scene[scene].add(img["id"])
        by_group[group].add(img["id"])
        assert img["category"].replace(" ", "_") == scene  # the two spellings the dataset must reconcile
    return dict(scene=by_scene, group=by_group, all={i["id"] for i in doc["images"]},
                anns={a["id"]: a for a in doc["annotations"]})


def build(root: Path, **kwargs):
    cfg = dict(type="HumanArtScenesDataset", data_root=str(root), ann_file="test_humanart.json",
               data_prefix=dict(img=""))
    return DATASETS.build({**cfg, **kwargs})


def infos(dataset) -> list[dict]:
    return [dataset.get_data_info(i) for i in range(len(dataset))]


def img_ids(dataset) -> set[int]:
    return {info["img_id"] for info in infos(dataset)}


def test_scenario_table():
    assert len(SCENES) == 19 and len(set(SCENES)) == 19
    assert sorted(GROUPS) == ["2D_virtual_human", "3D_virtual_human", "real_human"]
    assert [len(GROUPS[g]) for g in ("real_human", "2D_virtual_human", "3D_virtual_human")] == [5, 11, 3]
    assert GROUP_OF["digital_art"] == "2D_virtual_human" and GROUP_OF["garage_kits"] == "3D_virtual_human"
    for spelling in ("digital art", "Digital Art", "digital_art", "DIGITAL-ART", " digital  art "):
        assert normalize_scene(spelling) == "digital_art"


def test_every_image_gets_scenario_group_and_local_path(humanart, expected):
    dataset = build(humanart)
    assert img_ids(dataset) == expected["all"]
    for info in infos(dataset):
        assert info["img_id"] in expected["scene"][info["scenario"]]
        assert info["img_id"] in expected["group"][info["group"]]
        # file_name says HumanArt/images/<group>/...; the files here sit under humanart/<group>/...
        assert Path(info["img_path"]).is_file(), info["img_path"]


@pytest.mark.parametrize("scene", ["digital_art", "garage_kits", "acrobatics"])
def test_scene_selection_gives_exactly_its_images(humanart, expected, scene):
    for spelling in (scene, scene.replace("_", " ").title()):
        dataset = build(humanart, scenes=[spelling])
        assert img_ids(dataset) == expected["scene"][scene]
        assert {info["scenario"] for info in infos(dataset)} == {scene}


def test_selection_with_no_images_says_what_the_file_has(humanart):
    with pytest.raises(MmpxError, match=r"no images of scenario\(s\) cartoon.*: acrobatics, digital_art"):
        build(humanart, scenes=["cartoon"])


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_group_selection_gives_exactly_its_images(humanart, expected, group):
    assert img_ids(build(humanart, groups=[group])) == expected["group"][group]
    assert img_ids(build(humanart, groups=group.lower())) == expected["group"][group]


def test_scenes_and_groups_combine(humanart, expected):
    dataset = build(humanart, scenes=["garage kits"], groups=["real_human"])
    assert img_ids(dataset) == expected["scene"]["garage_kits"] | expected["group"]["real_human"]


def test_filter_cfg_scenes_is_honoured(humanart, expected):
    """MMPose's own configs pass filter_cfg=dict(scenes=[...]) (a group name there); MMPose ignores it."""
    assert img_ids(build(humanart, filter_cfg=dict(scenes=["real_human"]))) == expected["group"]["real_human"]
    digital = build(humanart, filter_cfg=dict(scenes=["digital art"]))
    assert img_ids(digital) == expected["scene"]["digital_art"]
    assert img_ids(build(humanart, filter_cfg=dict(groups=["3D_virtual_human"]))) == \
        expected["group"]["3D_virtual_human"]
    # with MMPose's bbox_score_thr alongside, both apply
    both = build(humanart, filter_cfg=dict(scenes=["real_human"], bbox_score_thr=0.3))
    assert img_ids(both) == expected["group"]["real_human"]
    mmpose_own = DATASETS.build(dict(type="HumanArtDataset", data_root=str(humanart),
                                     ann_file="test_humanart.json", filter_cfg=dict(scenes=["real_human"])))
    assert {mmpose_own.get_data_info(i)["img_id"] for i in range(len(mmpose_own))} == expected["all"]


def test_conflicting_selections_name_both(humanart):
    """groups= and filter_cfg.scenes with nothing in common gave 'no images of scenario(s)  in'
    with an empty list."""
    with pytest.raises(MmpxError) as err:
        build(humanart, groups=["real_human"], filter_cfg=dict(scenes=["Digital Art", "garage kits"]))
    message = err.value.message
    assert "groups=['real_human'] select acrobatics, cosplay, dance, drama, movie" in message
    assert "filter_cfg {'scenes': ['Digital Art', 'garage kits']} selects digital_art, garage_kits" in message
    assert "no scenario is in both" in message and "intersection" in err.value.hint


def test_unknown_names_are_clear_errors(humanart):
    with pytest.raises(MmpxError, match=r"unknown Human-Art scenario 'oilpainting'.*oil_painting"):
        build(humanart, scenes=["oilpainting"])
    with pytest.raises(MmpxError, match=r"unknown Human-Art scenario 'sculptures'"):
        build(humanart, filter_cfg=dict(scenes=["sculptures"]))
    with pytest.raises(MmpxError, match=r"group 'virtual'.*real_human, 2D_virtual_human, 3D_virtual_human"):
        build(humanart, groups=["virtual"])
    with pytest.raises(MmpxError, match="17 or 21"):
        build(humanart, keypoints=19)


def test_21_keypoints(humanart, expected):
    dataset = build(humanart, keypoints=21)
    assert dataset.metainfo["num_keypoints"] == 21
    assert len(dataset.metainfo["flip_indices"]) == 21
    for info in infos(dataset):
        raw = np.array(expected["anns"][info["id"]]["keypoints_21"], dtype=np.float32).reshape(-1, 3)
        assert info["keypoints"].shape == (1, 21, 2)
        np.testing.assert_allclose(info["keypoints"][0], raw[:, :2])
        assert info["raw_ann_info"]["keypoints"] == expected["anns"][info["id"]]["keypoints_21"]
    assert build(humanart).metainfo["num_keypoints"] == 17


def test_strip_prefix_options(humanart):
    never = infos(build(humanart, strip_prefix=None))
    assert all("HumanArt/images/" in info["img_path"] for info in never)
    explicit = infos(build(humanart, strip_prefix="HumanArt/images/"))
    assert all(Path(info["img_path"]).is_file() for info in explicit)


def test_bottomup_keeps_one_scenario_per_image(humanart, expected):
    dataset = build(humanart, data_mode="bottomup", scenes=["acrobatics"])
    (info,) = infos(dataset)
    assert info["scenario"] == "acrobatics" and info["group"] == "real_human"
    assert info["keypoints"].shape[0] == 2  # both people of that image


def test_selected_test_set_is_scored_on_itself(humanart):
    """In test mode with a selection, CocoMetric must not load the whole ann_file (it would count the rest)"""
    hub = MessageHub.get_current_instance()
    build(humanart, test_mode=True)
    assert hub.get_info("Human-Art_ann_file")
    build(humanart, test_mode=True, groups=["real_human"])
    assert hub.get_info("Human-Art_ann_file") is None


def write_car_coco(root: Path) -> Path:
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i in range(2):
        images.append(dict(id=i + 1, file_name=f"{i}.jpg", width=200, height=100))
        kpts = np.concatenate([rng.uniform(10, 90, (8, 2)), np.full((8, 1), 2.0)], axis=1)
        kpts[3, 2] = 1  # one occluded point
        annotations.append(dict(id=i + 1, image_id=i + 1, category_id=1, iscrowd=0, num_keypoints=8,
                                bbox=[5.0, 5.0, 150.0, 90.0], area=13500.0, keypoints=kpts.ravel().tolist()))
    ann = root / "train.json"
    ann.write_text(json.dumps(dict(images=images, annotations=annotations, categories=[
        dict(id=1, name="car", supercategory="car", keypoints=CAR_KEYPOINTS, skeleton=[])])))
    return ann


def test_carpose_dataset_loads_and_flips_by_its_swaps(tmp_path):
    ann = write_car_coco(tmp_path)
    dataset = DATASETS.build(dict(type="CarPoseDataset", data_root=str(tmp_path), ann_file=ann.name,
                                  data_prefix=dict(img="")))
    meta = dataset.metainfo
    assert len(dataset) == 2 and meta["num_keypoints"] == 8 and meta["dataset_name"] == "carpose"
    assert [meta["keypoint_id2name"][i] for i in range(8)] == CAR_KEYPOINTS
    info = dataset.get_data_info(0)
    assert info["keypoints"].shape == (1, 8, 2) and info["keypoints_visible"].shape == (1, 8)
    swaps = infer_swaps(CAR_KEYPOINTS)
    by_swaps = [CAR_KEYPOINTS.index(swaps[n]) for n in CAR_KEYPOINTS]
    assert info["flip_indices"] == by_swaps == [1, 0, 3, 2, 5, 4, 7, 6]
    assert len(meta["skeleton_links"]) == 10 and len(meta["sigmas"]) == 8


def test_carpose_metainfo_is_package_data_and_plain_data():
    path = Path(CARPOSE_METAINFO)
    assert path.is_file() and path.parent.name == "metainfo"
    assert "datasets/metainfo/*.py" in (ROOT / "pyproject.toml").read_text()
    info = load_metainfo(path)  # literals only: readable without executing it
    assert keypoint_names(info) == CAR_KEYPOINTS
    assert {kp["name"]: kp["swap"] for kp in info["keypoint_info"].values()} == infer_swaps(CAR_KEYPOINTS)


def test_names_do_not_collide_with_mmpose():
    code = ("import json, mmpose.datasets; from mmpose.registry import DATASETS; "
            "print(json.dumps(list(DATASETS.module_dict)))")
    result = run([sys.executable, "-c", code])
    assert result.returncode == 0, result.stderr[-2000:]
    mmpose_names = set(json.loads(result.stdout.strip().splitlines()[-1]))
    ours = {name for name, cls in DATASETS.module_dict.items() if cls.__module__.startswith("mmpose_ext")}
    assert ours >= {"CarPoseDataset", "HumanArtScenesDataset"}
    assert not ours & mmpose_names
    assert all(not DATASETS.module_dict[n].__module__.startswith("mmpose_ext") for n in mmpose_names)
