"""The converter on real files it writes, and on bad input: one error line, nothing written."""

import json

import numpy as np
import pytest
from mmpx.testing import run_cli

HEADER = "image,nose_x,nose_y,nose_v,tail_x,tail_y,tail_v\n"


@pytest.fixture
def labels(tmp_path):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((40, 60, 3), np.uint8))
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(HEADER + "a.png,10,10,2,50,30,1\na.png,5,5,2,0,0,0\n")
    return csv_path


def test_converts_rows_to_the_layout_the_config_reads(labels, tmp_path):
    result = run_cli("convert", "__NAME__-csv", labels, tmp_path / "out")
    assert result.exit_code == 0, result.stderr
    coco = json.loads((tmp_path / "out" / "annotations" / "train.json").read_text())
    assert coco["images"] == [dict(id=1, file_name="a.png", height=40, width=60)]
    assert [a["keypoints"] for a in coco["annotations"]] == [[10, 10, 2, 50, 30, 1], [5, 5, 2, 0, 0, 0]]
    assert coco["annotations"][0]["bbox"] == pytest.approx([6, 8, 48, 24])
    assert coco["categories"][0]["keypoints"] == ["nose", "tail"]
    val = json.loads((tmp_path / "out" / "annotations" / "val.json").read_text())
    assert val["images"] == [] and val["categories"] == coco["categories"]  # one image: all of it trains
    assert (tmp_path / "out" / "images" / "a.png").is_file() and (tmp_path / "out" / "metainfo.py").is_file()


def test_splits_by_image_with_a_seed(tmp_path):
    import cv2

    rows = [HEADER.strip()]
    for i in range(10):
        cv2.imwrite(str(tmp_path / f"{i}.png"), np.zeros((20, 20, 3), np.uint8))
        rows += [f"{i}.png,2,2,2,9,9,2", f"{i}.png,3,3,2,8,8,2"]  # two objects per image
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    splits = []
    for out in ("a", "b"):
        result = run_cli("convert", "__NAME__-csv", tmp_path / "labels.csv", tmp_path / out, "--val-ratio", "0.2")
        assert result.exit_code == 0, result.stderr
        coco = {s: json.loads((tmp_path / out / "annotations" / f"{s}.json").read_text()) for s in ("train", "val")}
        splits.append({s: sorted(i["file_name"] for i in c["images"]) for s, c in coco.items()})
        assert len(coco["train"]["images"]) == 8 and len(coco["val"]["images"]) == 2
        assert len(coco["val"]["annotations"]) == 4  # an image's objects stay together
    assert splits[0] == splits[1] and not set(splits[0]["train"]) & set(splits[0]["val"])


@pytest.mark.parametrize("text, message", [
    ("image,nose_x,nose_y\n", "the header must be"),
    (HEADER + "a.png,10,10,2,50,abc,1\n", "column tail_y: 'abc' is not a number"),
    (HEADER + "a.png,10,10,3,50,30,1\n", "visibility '3'"),
    (HEADER + "b.png,10,10,2,50,30,1\n", "image b.png is missing"),
])
def test_bad_rows_give_one_error_line_and_write_nothing(labels, tmp_path, text, message):
    labels.write_text(text)
    result = run_cli("convert", "__NAME__-csv", labels, tmp_path / "out")
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".*out*"))


def test_never_replaces_what_it_did_not_write(labels, tmp_path):
    mine = tmp_path / "thesis"
    mine.mkdir()
    (mine / "thesis.tex").write_text("years of work")
    result = run_cli("convert", "__NAME__-csv", labels, mine, "--overwrite")
    assert result.exit_code == 1 and "was not written by an mmpx conversion" in result.stderr
    assert (mine / "thesis.tex").read_text() == "years of work"
    result = run_cli("convert", "__NAME__-csv", labels, tmp_path, "--overwrite")  # OUT holds the inputs
    assert result.exit_code == 1 and "the input" in result.stderr and labels.is_file()


def test_overwrite_replaces_an_earlier_conversion(labels, tmp_path):
    assert run_cli("convert", "__NAME__-csv", labels, tmp_path / "out").exit_code == 0
    again = run_cli("convert", "__NAME__-csv", labels, tmp_path / "out")
    assert again.exit_code == 1 and "--overwrite" in again.stderr
    assert run_cli("convert", "__NAME__-csv", labels, tmp_path / "out", "--overwrite").exit_code == 0
    assert json.loads((tmp_path / "out" / "report.json").read_text())["objects"] == 2
