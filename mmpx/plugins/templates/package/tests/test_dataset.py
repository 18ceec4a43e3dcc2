"""The dataset: its keypoints come from the annotation file it loads, not from the class."""

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def datasets():
    import mmpose_ext  # noqa: F401  (fixes for today's packages first)
    from mmpose.registry import DATASETS

    import __PKG__.dataset  # noqa: F401  (registers __PREFIX__Dataset)

    return DATASETS


def _coco(root, names, skeleton=()):
    """A one-image COCO keypoint file under ``root``: ``annotations/train.json`` and ``images/a.png``."""
    import cv2

    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    cv2.imwrite(str(root / "images" / "a.png"), np.zeros((40, 60, 3), np.uint8))
    keypoints = [v for i in range(len(names)) for v in (10 + 3 * i, 10 + 2 * i, 2)]
    coco = dict(images=[dict(id=1, file_name="a.png", width=60, height=40)],
                annotations=[dict(id=1, image_id=1, category_id=1, iscrowd=0, keypoints=keypoints,
                                  num_keypoints=len(names), bbox=[5, 5, 40, 30], area=1200)],
                categories=[dict(id=1, name="object", keypoints=list(names), skeleton=[list(s) for s in skeleton])])
    (root / "annotations" / "train.json").write_text(json.dumps(coco))
    return root


def _build(datasets, root, **kwargs):
    return datasets.build(dict(type="__PREFIX__Dataset", data_root=str(root), ann_file="annotations/train.json",
                               data_prefix=dict(img="images/"), pipeline=[], **kwargs))


def test_keypoints_come_from_the_annotation_file(datasets, tmp_path):
    dataset = _build(datasets, _coco(tmp_path, ["nose", "left_ear", "right_ear"], skeleton=[(1, 2), (1, 3)]))
    meta = dataset.metainfo
    assert meta["dataset_name"] == "__NAME__" and meta["num_keypoints"] == 3
    assert [meta["keypoint_id2name"][i] for i in range(3)] == ["nose", "left_ear", "right_ear"]
    assert meta["flip_indices"] == [0, 2, 1]  # left/right partners found by their names
    assert meta["skeleton_links"] == [(0, 1), (0, 2)]
    assert len(dataset) == 1 and dataset[0]["keypoints"].shape == (1, 3, 2)


def test_each_file_brings_its_own_keypoints(datasets, tmp_path):
    dataset = _build(datasets, _coco(tmp_path, [f"point{i}" for i in range(5)]))
    assert dataset.metainfo["num_keypoints"] == 5
    assert datasets.get("__PREFIX__Dataset").METAINFO == {}  # nothing fixed in the class


def test_a_metainfo_in_the_config_still_wins(datasets, tmp_path):
    from mmpx.metainfo import build_metainfo

    meta = build_metainfo("mine", ["a", "b"], sigmas=[0.1, 0.2])
    dataset = _build(datasets, _coco(tmp_path, ["a", "b"]), metainfo=meta)
    assert dataset.metainfo["dataset_name"] == "mine"
    assert dataset.metainfo["sigmas"].tolist() == pytest.approx([0.1, 0.2])


def test_a_file_without_a_keypoint_category_is_one_clear_error(datasets, tmp_path):
    root = _coco(tmp_path, ["a"])
    (root / "annotations" / "train.json").write_text(json.dumps(dict(images=[], annotations=[], categories=[])))
    with pytest.raises(Exception, match="categories") as raised:
        _build(datasets, root)
    assert "train.json" in str(raised.value)
