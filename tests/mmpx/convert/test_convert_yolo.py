"""`mmpx convert yolo` and `to-yolo`: an Ultralytics pose dataset to COCO and back, losslessly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from mmpx.cli.main import build_app
from mmpx.convert.to_yolo import convert_to_yolo
from mmpx.convert.yolo import convert_yolo
from mmpx.errors import MmpxError
from mmpx.plugins.manager import load_plugins

NAMES = ["nose", "left_eye", "right_eye"]
DATA = dict(
    path=".",
    train="images/train",
    val="images/val",
    kpt_shape=[3, 3],
    flip_idx=[0, 2, 1],
    names={0: "cat", 1: "dog"},
    kpt_names={0: NAMES, 1: NAMES},
)
# (split, stem, width, height, label lines); the last train image has no label file (no objects)
LABELS = [
    (
        "train",
        "a",
        64,
        48,
        [
            "0 0.500000 0.500000 0.400000 0.500000 0.400000 0.400000 2 0.450000 0.350000 1 "
            "0.000000 0.000000 0",
            "1 0.250000 0.250000 0.200000 0.200000 0.200000 0.200000 2 0.250000 0.250000 2 "
            "0.300000 0.200000 2",
        ],
    ),
    (
        "train",
        "sub/b",
        80,
        60,
        ["0 0.612345 0.498765 0.333333 0.444444 0.612345 0.400000 2 0.550000 0.450000 2 0.680000 0.450000 1"],
    ),
    ("train", "empty", 32, 32, None),
    (
        "val",
        "c",
        50,
        70,
        ["1 0.500000 0.500000 1.000000 1.000000 0.100000 0.900000 2 0.000000 0.000000 0 0.900000 0.100000 2"],
    ),
]


def make_yolo(root: Path, data: dict | None = None, labels=LABELS) -> Path:
    """A real pose dataset: PNG images written with OpenCV, labels, data.yaml."""
    import cv2

    for split, stem, width, height, lines in labels:
        image = root / "images" / split / f"{stem}.png"
        image.parent.mkdir(parents=True, exist_ok=True)
        assert cv2.imwrite(str(image), np.full((height, width, 3), 90, np.uint8))
        if lines is not None:
            label = root / "labels" / split / f"{stem}.txt"
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text("\n".join(lines) + "\n")
    path = root / "data.yaml"
    path.write_text(yaml.safe_dump(DATA if data is None else data, sort_keys=False))
    return path


def read_labels(root: Path) -> dict[str, np.ndarray]:
    return {
        p.relative_to(root / "labels").as_posix(): np.loadtxt(p, ndmin=2) if p.read_text() else np.zeros((0,))
        for p in sorted((root / "labels").rglob("*.txt"))
    }


def test_yolo_to_coco(tmp_path):
    make_yolo(tmp_path / "yolo")
    report = convert_yolo(tmp_path / "yolo", tmp_path / "coco")  # the folder: data.yaml is found
    train = json.loads((tmp_path / "coco" / "annotations" / "train.json").read_text())
    assert [c["name"] for c in train["categories"]] == ["cat", "dog"]
    assert all(c["keypoints"] == NAMES for c in train["categories"])
    images = {i["file_name"]: i for i in train["images"]}
    assert sorted(images) == ["train/a.png", "train/empty.png", "train/sub/b.png"]
    assert (images["train/a.png"]["width"], images["train/a.png"]["height"]) == (
        64,
        48,
    )  # from the PNG header
    cat, dog = (a for a in train["annotations"] if a["image_id"] == images["train/a.png"]["id"])
    assert cat["category_id"] == 1 and dog["category_id"] == 2
    assert cat["bbox"] == pytest.approx([19.2, 12, 25.6, 24]) and cat["area"] == pytest.approx(614.4)
    assert (
        cat["keypoints"] == pytest.approx([25.6, 19.2, 2, 28.8, 16.8, 1, 0, 0, 0])
        and cat["num_keypoints"] == 2
    )
    assert (tmp_path / "coco" / "images" / "train" / "sub" / "b.png").is_file()
    assert report.images == {"train": 3, "val": 1} and report.instances == 4
    assert report.images_without_instances == 1 and report.keypoints_source == "kpt_names"
    meta = (tmp_path / "coco" / "metainfo.py").read_text()
    assert "'swap': 'right_eye'" in meta and "'swap': 'left_eye'" in meta

    from xtcocotools.coco import COCO

    assert len(COCO(str(tmp_path / "coco" / "annotations" / "val.json")).getAnnIds()) == 1


def test_round_trip_yolo_coco_yolo_is_lossless(tmp_path):
    make_yolo(tmp_path / "yolo")
    convert_yolo(tmp_path / "yolo" / "data.yaml", tmp_path / "coco")
    convert_to_yolo(
        tmp_path / "coco" / "annotations",
        tmp_path / "back",
        images=tmp_path / "coco" / "images",
        metainfo=tmp_path / "coco" / "metainfo.py",
    )
    before, after = read_labels(tmp_path / "yolo"), read_labels(tmp_path / "back")
    assert set(after) == set(before) | {"train/empty.txt"}  # an image without objects gets an empty file
    for name, values in before.items():
        np.testing.assert_allclose(after[name], values, atol=2e-6)
    data = yaml.safe_load((tmp_path / "back" / "data.yaml").read_text())
    for key in ("kpt_shape", "flip_idx", "names", "kpt_names"):
        assert data[key] == DATA[key], key
    assert (tmp_path / "back" / "images" / "train" / "sub" / "b.png").is_file()
    # and the written dataset reads back
    again = convert_yolo(tmp_path / "back", tmp_path / "again")
    assert again.instances == 4 and again.keypoint_names == NAMES


def test_two_dim_keypoints_list_files_and_default_names(tmp_path):
    labels = [("train", "a", 40, 40, ["0 0.5 0.5 0.5 0.5 0.25 0.25 0 0"]), ("val", "b", 40, 40, [])]
    root = tmp_path / "yolo"
    make_yolo(root, dict(train="train.txt", val=["images/val"], kpt_shape=[2, 2], names=["thing"]), labels)
    (root / "train.txt").write_text("./images/train/a.png\n")
    report = convert_yolo(root / "data.yaml", tmp_path / "coco", images="none")
    (ann,) = json.loads((tmp_path / "coco" / "annotations" / "train.json").read_text())["annotations"]
    assert ann["keypoints"] == [10, 10, 2, 0, 0, 0]  # dim 2: visible unless at (0, 0)
    assert report.keypoint_names == ["kpt_0", "kpt_1"] and report.keypoints_source.startswith("kpt_0")
    image = json.loads((tmp_path / "coco" / "annotations" / "train.json").read_text())["images"][0]
    assert image["file_name"] == "images/train/a.png" and not (tmp_path / "coco" / "images").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(kpt_shape=None), "field 'kpt_shape' is missing"),
        (dict(kpt_shape=[3, 4]), "field 'kpt_shape' must be [K, 2] or [K, 3], got [3, 4]"),
        (dict(flip_idx=[0, 2, 2]), "field 'flip_idx' must list, for each of the 3 keypoints"),
        (dict(names=None), "field 'names' is missing"),
        (dict(train=None), "field 'train' is missing"),
        (dict(val="images/nope"), "field 'val' names"),
        (dict(kpt_names={0: ["a", "b"]}), "field 'kpt_names' must list 3 unique names"),
    ],
)
def test_bad_yaml_names_the_file_and_field(tmp_path, change, message):
    data = {k: v for k, v in {**DATA, **change}.items() if v is not None}
    path = make_yolo(tmp_path / "yolo", data)
    with pytest.raises(MmpxError) as err:
        convert_yolo(path, tmp_path / "coco")
    assert str(path) in err.value.message and message in err.value.message and err.value.hint
    assert not (tmp_path / "coco").exists()


def test_bad_label_line_names_file_and_line(tmp_path):
    make_yolo(tmp_path / "yolo")
    label = tmp_path / "yolo" / "labels" / "val" / "c.txt"
    label.write_text("0 0.5 0.5 0.2 0.2 0.1 0.1 2\n")
    with pytest.raises(
        MmpxError, match=rf"{label}:1: expected 14 values \(class, box, 3 keypoints x 3\), found 8"
    ):
        convert_yolo(tmp_path / "yolo", tmp_path / "coco")
    label.write_text("5 " + " ".join(["0.5"] * 13) + "\n")
    with pytest.raises(MmpxError, match="class 5 is not in names"):
        convert_yolo(tmp_path / "yolo", tmp_path / "coco")
    assert not (tmp_path / "coco").exists()


def test_to_yolo_infers_flip_idx_and_needs_images(tmp_path):
    make_yolo(tmp_path / "yolo")
    convert_yolo(tmp_path / "yolo", tmp_path / "coco")
    convert_to_yolo(
        tmp_path / "coco" / "annotations" / "val.json",
        tmp_path / "back",
        images=tmp_path / "coco" / "images",
        link=True,
    )
    data = yaml.safe_load((tmp_path / "back" / "data.yaml").read_text())
    assert data["flip_idx"] == [0, 2, 1] and data["val"] == "images/val" == data["train"]  # only a val split
    with pytest.raises(MmpxError, match="image 'train/a.png' is not in"):
        convert_to_yolo(tmp_path / "coco" / "annotations" / "train.json", tmp_path / "b2", images=tmp_path / "coco")


def test_cli_yolo_and_to_yolo(tmp_path):
    make_yolo(tmp_path / "yolo")
    app, runner = build_app(load_plugins(distributions=[], env={})), CliRunner()
    result = runner.invoke(
        app, ["convert", "yolo", str(tmp_path / "yolo"), str(tmp_path / "coco")], env={"COLUMNS": "160"}
    )
    assert result.exit_code == 0, result.output
    assert "mmpx convert yolo" in result.output
    result = runner.invoke(
        app,
        [
            "convert",
            "to-yolo",
            str(tmp_path / "coco" / "annotations"),
            str(tmp_path / "b"),
            "--images",
            str(tmp_path / "coco" / "images"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["images"] == {"train": 3, "val": 1}
