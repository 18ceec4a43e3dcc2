"""MultiClassCocoDataset on a real two-class COCO file (cars and bicycles drawn in the test): each instance in its
class's block of the union, flips within the class, bad files refused by name; and the losses of the generated
configs give no gradient to another class's keypoints (the real model, a real batch through the config's
pipeline)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DefaultScope

import mmpose_ext  # noqa: F401  (registers the dataset)
from mmpose_ext.registry import DATASETS, MODELS
from mmpx.configs.new import plan_config
from mmpx.configs.new_text import render
from mmpx.errors import MmpxError
from mmpx.metainfo import build_metainfo, write_metainfo
from tests.mmpx.configs.multiclass_data import BICYCLE, CAR, make_dataset

pytestmark = pytest.mark.stack

CAR_BLOCK, BIKE_BLOCK = slice(0, 4), slice(4, 8)


@pytest.fixture(scope="module")
def street(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("street") / "data", images=4)


def _build(root: Path, ann: str = "annotations/train.json", **kwargs):
    cfg = dict(type="MultiClassCocoDataset", data_root=str(root), ann_file=ann, data_prefix=dict(img="images/"),
               metainfo=dict(from_file=str(root / "metainfo.py")), pipeline=[])
    with DefaultScope.overwrite_default_scope("mmpose"):
        return DATASETS.build({**cfg, **kwargs})


def _edited(root: Path, tmp_path: Path, edit) -> Path:
    doc = json.loads((root / "annotations" / "train.json").read_text())
    edit(doc)
    out = tmp_path / "edited.json"
    out.write_text(json.dumps(doc))
    return out


def test_instances_in_their_class_block(street):
    dataset = _build(street)
    raw = json.loads((street / "annotations" / "train.json").read_text())["annotations"]
    assert len(dataset) == len(raw) == 6
    meta = dataset.metainfo
    assert meta["num_keypoints"] == 8
    assert meta["classes"] == [dict(id=1, name="car", keypoints=CAR, start=0, stop=4),
                               dict(id=2, name="bicycle", keypoints=BICYCLE, start=4, stop=8)]
    assert list(meta["flip_indices"]) == [1, 0, 3, 2, 4, 5, 7, 6]  # swaps never leave a class
    for i, ann in enumerate(raw):
        info = dataset.get_data_info(i)
        own, other = (CAR_BLOCK, BIKE_BLOCK) if ann["category_id"] == 1 else (BIKE_BLOCK, CAR_BLOCK)
        assert info["category_id"] == ann["category_id"] and info["id"] == ann["id"]
        assert info["keypoints"].shape == (1, 8, 2) and info["keypoints_visible"].shape == (1, 8)
        expected = np.array(ann["keypoints"], np.float32).reshape(-1, 3)
        np.testing.assert_array_equal(info["keypoints"][0, own], expected[:, :2])
        assert (info["keypoints_visible"][0, own] == 1).all()
        assert (info["keypoints"][0, other] == 0).all() and (info["keypoints_visible"][0, other] == 0).all()
        assert info["raw_ann_info"]["keypoints"] == ann["keypoints"]  # untouched: the metric scores it


def test_flip_swaps_within_the_class(street):
    pipeline = [dict(type="LoadImage"), dict(type="GetBBoxCenterScale"),
                dict(type="RandomFlip", direction="horizontal", prob=1.0)]
    dataset = _build(street, pipeline=pipeline)
    for i in range(len(dataset)):
        before, after = dataset.get_data_info(i), dataset[i]
        own = CAR_BLOCK if before["category_id"] == 1 else BIKE_BLOCK
        assert after["flip"] and (after["keypoints_visible"][0, own] == 1).all()
        other = np.ones(8, bool)
        other[own] = False
        assert (after["keypoints_visible"][0, other] == 0).all()
        width = 128
        # a mirrored left_front is where right_front was: the partner within the same class
        x = after["keypoints"][0, :, 0]
        flipped = width - 1 - before["keypoints"][0, :, 0]
        partners = [1, 0, 3, 2, 4, 5, 7, 6]
        for k in np.flatnonzero(~other):
            assert x[k] == pytest.approx(flipped[partners[k]], abs=1e-3)


def test_bbox_file_keeps_detections_of_the_classes(street, tmp_path):
    dets = [dict(image_id=1, category_id=2, bbox=[60, 30, 50, 40], score=0.9),
            dict(image_id=1, category_id=1, bbox=[0, 0, 50, 30], score=0.8),
            dict(image_id=2, category_id=7, bbox=[0, 0, 10, 10], score=0.99)]  # a class the model does not know
    path = tmp_path / "dets.json"
    path.write_text(json.dumps(dets))
    dataset = _build(street, bbox_file=str(path), test_mode=True)
    assert len(dataset) == 2
    bike, car = dataset.get_data_info(0), dataset.get_data_info(1)
    assert (bike["category_id"], car["category_id"]) == (2, 1)
    assert (bike["keypoints_visible"][0, BIKE_BLOCK] == 1).all()
    assert (bike["keypoints_visible"][0, CAR_BLOCK] == 0).all()
    np.testing.assert_allclose(car["bbox"], [[0, 0, 50, 30]])


def test_refused_with_the_file_and_the_category(street, tmp_path):
    with pytest.raises(MmpxError, match="data_mode='bottomup' is not supported"):
        _build(street, data_mode="bottomup")
    with pytest.raises(MmpxError, match="needs metainfo=dict\\(from_file="):
        _build(street, metainfo=None)
    one = tmp_path / "one.py"
    write_metainfo(one, build_metainfo("car", CAR))
    with pytest.raises(MmpxError, match="no 'classes' list: it is a one-class metainfo"):
        _build(street, metainfo=dict(from_file=str(one)))

    def rename(doc):
        doc["categories"][1]["name"] = "bike"

    def reorder(doc):
        doc["categories"][0]["keypoints"] = CAR[::-1]

    def unknown(doc):
        doc["categories"].append(dict(id=3, name="person", keypoints=["nose"]))

    def short(doc):
        doc["annotations"][1]["keypoints"] = doc["annotations"][1]["keypoints"][:9]

    for edit, message in ((rename, "category id 2 is 'bike'"), (reorder, "category id 1 is 'car' with keypoints"),
                          (unknown, "category 'person' \\(id 3\\) is not a class"),
                          (short, "annotation 2 \\(bicycle\\) has 3 keypoints, its class 4")):
        ann = _edited(street, tmp_path, edit)
        with pytest.raises(MmpxError, match=message) as info:
            _build(street, ann=str(ann))
        assert str(ann) in str(info.value)


def _head_outputs(model) -> list:
    """The head's outputs of the next forward, kept with their gradients (the real loss path runs unchanged)."""
    kept, forward = [], model.head.forward

    def keep(feats):
        out = forward(feats)
        for t in out if isinstance(out, tuple) else (out,):
            t.retain_grad()
            kept.append(t)
        return out

    model.head.forward = keep
    return kept


@pytest.mark.parametrize("model_name, loss", [("rtmpose-t", "KLDiscretLoss"), ("heatmap-resnet50", "KeypointMSELoss")])
def test_no_gradient_to_another_class(street, tmp_path, model_name, loss):
    """A car gives zero gradient to every bicycle output and a bicycle to every car output; each its own, some."""
    config = tmp_path / "config.py"
    config.write_text(render(plan_config(street, model_name, input_size="128x96"), "test"))
    cfg = Config.fromfile(str(config))
    assert cfg.model.head.loss == dict(type=loss, use_target_weight=True, **(
        dict(beta=10., label_softmax=True) if loss == "KLDiscretLoss" else {}))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope("mmpose"):
        model = MODELS.build(cfg.model)
        dataset = DATASETS.build(cfg.train_dataloader.dataset)
    model.train()
    batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(len(dataset))]), training=True)
    outputs = _head_outputs(model)
    losses = model.loss(batch["inputs"], batch["data_samples"])
    sum(v for k, v in losses.items() if k.startswith("loss")).backward()
    assert outputs and all(t.grad is not None for t in outputs)
    classes = [s.category_id for s in batch["data_samples"]]
    assert sorted(set(classes)) == [1, 2]
    for t in outputs:  # (B, K, ...) SimCC vectors or heatmaps
        for b, cid in enumerate(classes):
            own, other = (CAR_BLOCK, BIKE_BLOCK) if cid == 1 else (BIKE_BLOCK, CAR_BLOCK)
            assert torch.count_nonzero(t.grad[b, other]) == 0
            assert torch.count_nonzero(t.grad[b, own]) > 0
