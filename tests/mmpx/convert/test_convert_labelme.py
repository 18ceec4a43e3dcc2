"""`mmpx convert labelme`: instance and visibility rules, labelme versions, bad input, atomic output, CLI."""

from __future__ import annotations

import base64
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmpx.cli.main import build_app
from mmpx.convert import labelme as labelme_mod
from mmpx.convert.labelme import convert_labelme
from mmpx.convert.labelme_group import PAD_RATIO
from mmpx.errors import MmpxError
from mmpx.plugins.manager import load_plugins
from tests.helpers import run

KPTS = "nose,left-front-tire,right-front-tire"


def shape(label, kind="point", points=((10, 10),), group=None, **extra):
    return dict(
        label=label, points=[list(p) for p in points], group_id=group, shape_type=kind, flags={}, **extra
    )


def rect(x0, y0, x1, y1, group=None, label="car"):
    return shape(label, "rectangle", [(x0, y0), (x1, y1)], group)


def write_lm(
    folder: Path,
    name: str,
    shapes: list,
    width: int = 100,
    height: int = 80,
    image: str | None = "auto",
    **fields,
) -> Path:
    """A labelme 5.x file (``fields`` override or add top-level keys; a None value removes the key)."""
    doc = dict(
        version="5.2.1",
        flags={},
        shapes=shapes,
        imagePath=Path(name).stem + ".png" if image == "auto" else image,
        imageData=None,
        imageHeight=height,
        imageWidth=width,
    )
    doc.update(fields)
    doc = {k: v for k, v in doc.items() if v is not None or k == "imageData"}
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def png_bytes(width: int = 100, height: int = 80) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".png", np.full((height, width, 3), 127, np.uint8))
    assert ok
    return buf.tobytes()


def coco(out: Path, split: str = "train") -> dict:
    return json.loads((out / "annotations" / f"{split}.json").read_text())


def all_anns(out: Path) -> list[dict]:
    return sorted(coco(out)["annotations"] + coco(out, "val")["annotations"], key=lambda a: a["id"])


def convert(src, out, **kw):
    kw.setdefault("images", "none")
    kw.setdefault("val_ratio", 0)
    return convert_labelme(src, out, **kw)


# --- instance rules -------------------------------------------------------------------------------


def test_rule_a_rectangle_takes_points_with_its_group_id(tmp_path):
    write_lm(
        tmp_path / "src",
        "a.json",
        [
            rect(10, 10, 50, 50, group=1),
            rect(40, 20, 90, 70, group=2),
            shape("nose", points=[(45, 30)], group=2),
            shape("nose", points=[(45, 30)], group=1),
            shape("left-front-tire", points=[(20, 40)], group=1),
        ],
    )
    report = convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS)
    a1, a2 = all_anns(tmp_path / "out")
    assert a1["bbox"] == [10, 10, 40, 40] and a1["area"] == 1600 and a1["num_keypoints"] == 2
    assert a1["keypoints"] == [45, 30, 2, 20, 40, 2, 0, 0, 0]
    assert a2["bbox"] == [40, 20, 50, 50] and a2["keypoints"] == [45, 30, 2, 0, 0, 0, 0, 0, 0]
    assert a1["iscrowd"] == 0 and a1["category_id"] == 1
    assert report.instances == 2 and report.files_converted == 1


def test_rule_b_ungrouped_points_go_to_the_containing_rectangle(tmp_path):
    write_lm(
        tmp_path / "src",
        "a.json",
        [
            rect(0, 0, 40, 40),
            rect(50, 0, 99, 40),
            shape("nose", points=[(10, 10)]),
            shape("nose", points=[(60, 10)]),
            shape("right-front-tire", points=[(70, 30)]),
        ],
    )
    convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS)
    a1, a2 = all_anns(tmp_path / "out")
    assert a1["keypoints"][:3] == [10, 10, 2] and a1["num_keypoints"] == 1
    assert a2["keypoints"] == [60, 10, 2, 0, 0, 0, 70, 30, 2]


def test_rule_c_points_without_rectangle_get_a_padded_box(tmp_path):
    write_lm(
        tmp_path / "src",
        "a.json",
        [
            shape("nose", points=[(20, 30)]),
            shape("left-front-tire", points=[(60, 40)]),
            shape("right-front-tire", points=[(95, 35)]),
        ],
    )
    # a second image with rectangles: a group_id no rectangle has is a typo, reported (it used
    # to become a phantom instance with a 2x2 box and one keypoint)
    write_lm(
        tmp_path / "src",
        "b.json",
        [
            rect(0, 0, 30, 30, group=1),
            shape("nose", points=[(10, 10)], group=1),
            shape("nose", points=[(70, 60)], group="1"),
        ],
    )
    write_lm(tmp_path / "src", "c.json", [shape("nose", points=[(70, 60)], group=7)])  # no rectangles: rule (c)
    report = convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS)
    assert [(Path(s["file"]).name, s["reason"]) for s in report.skipped] == [
        ("b.json", "point 'nose' (shape 3) has group_id '1', which no rectangle has (rectangles' group_ids: 1)")]
    assert '1 vs "1"' in report.skipped[0]["hint"]
    a, c = all_anns(tmp_path / "out")
    pad = PAD_RATIO * 75  # larger side of the points' extent (x: 20..95, y: 30..40)
    assert a["bbox"] == pytest.approx([20 - pad, 30 - pad, 100 - (20 - pad), 40 + pad - (30 - pad)], abs=0.01)
    assert a["bbox"][0] + a["bbox"][2] == pytest.approx(100)  # clipped to the image width
    assert c["num_keypoints"] == 1 and c["bbox"] == pytest.approx([69, 59, 2, 2])  # lone point: 1 px padding


def test_ambiguous_and_stray_points_are_reported_never_guessed(tmp_path):
    src = tmp_path / "src"
    write_lm(
        src, "ambiguous.json", [rect(0, 0, 50, 50), rect(30, 30, 90, 70), shape("nose", points=[(40, 40)])]
    )
    write_lm(src, "stray.json", [rect(0, 0, 20, 20), shape("nose", points=[(60, 60)])])
    write_lm(src, "good.json", [rect(0, 0, 20, 20), shape("nose", points=[(5, 5)])])
    report = convert(src, tmp_path / "out", keypoints=KPTS)
    reasons = {Path(s["file"]).name: s["reason"] for s in report.skipped}
    assert (
        "ambiguous: point 'nose' (shape 3) at (40, 40) lies inside 2 rectangles (shapes 1, 2)"
        in reasons["ambiguous.json"]
    )
    assert "lies in no rectangle" in reasons["stray.json"]
    assert report.files_converted == 1 and all(s["hint"] for s in report.skipped)
    with pytest.raises(MmpxError, match=r"ambiguous\.json: ambiguous"):
        convert(src, tmp_path / "strict", keypoints=KPTS, strict=True)
    assert not (tmp_path / "strict").exists()


def test_empty_rectangle_is_an_instance_with_a_warning_and_other_shapes_are_counted(tmp_path):
    write_lm(
        tmp_path / "src",
        "a.json",
        [
            rect(0, 0, 20, 20, label="wheel"),
            rect(30, 30, 60, 60),
            shape("nose", points=[(40, 40)]),
            shape("p", "polygon", [(1, 1), (5, 1), (5, 5)]),
            shape("c", "circle", [(10, 10), (12, 12)]),
            shape("l", "line", [(1, 1), (9, 9)]),
            shape("ls", "linestrip", [(1, 1), (2, 2), (3, 1)]),
            shape("m", "mask", [(1, 1), (9, 9)], mask="iVBORw0KGgo="),
            shape("p2", "polygon", [(1, 1), (5, 1), (5, 5)]),
        ],
    )
    report = convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS)
    assert report.instances == 2 and report.instances_without_keypoints == 1
    assert report.warnings[0]["message"] == (
        "rectangle 'wheel' (shape 1) has no keypoints; kept as an instance with 0 keypoints"
    )
    assert report.skipped_shapes == {"circle": 1, "line": 1, "linestrip": 1, "mask": 1, "polygon": 2}
    assert all_anns(tmp_path / "out")[0]["num_keypoints"] == 0
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["skipped_shapes"]["polygon"] == 2 and saved["warnings"] == report.warnings


# --- visibility -----------------------------------------------------------------------------------


def test_visibility_rules(tmp_path):
    names = "a,b,c,d,e,f"
    shapes = [
        rect(0, 0, 99, 79, group=1),
        shape("a", points=[(1, 1)], group=1),  # plain: visible
        dict(shape("b", points=[(2, 2)], group=1), flags={"occluded": True}),
        dict(shape("c", points=[(3, 3)], group=1), flags={"invisible": 1}),
        dict(shape("d", points=[(4, 4)], group=1), visible=False),
        shape("e_occluded", points=[(5, 5)], group=1),
        dict(shape("f", points=[(6, 6)], group=1), flags={"occluded": False}),
    ]
    write_lm(tmp_path / "src", "a.json", shapes)
    write_lm(tmp_path / "src", "b.json", [rect(0, 0, 10, 10, group=1), shape("a", points=[(1, 1)], group=1)])
    report = convert(tmp_path / "src", tmp_path / "out", keypoints=names)
    a, b = all_anns(tmp_path / "out")
    assert a["keypoints"][2::3] == [2, 1, 1, 1, 1, 2]
    assert a["keypoints"][12:14] == [5, 5]  # e_occluded is keypoint e
    assert b["keypoints"] == [1, 1, 2] + [0, 0, 0] * 5 and b["num_keypoints"] == 1  # missing: 0, 0, 0
    assert report.visibility == {"1": 4, "2": 3}
    assert report.keypoints_labelled == {"a": 2, "b": 1, "c": 1, "d": 1, "e": 1, "f": 1}


# --- labelme versions, image paths, names ---------------------------------------------------------


def test_labelme_versions_3_to_6(tmp_path):
    src = tmp_path / "src"
    v3 = [
        dict(
            label="car", points=[[0, 0], [50, 50]], shape_type="rectangle", line_color=None, fill_color=None
        ),
        dict(label="nose", points=[[10, 10]], shape_type="point", line_color=None, fill_color=None),
        dict(label="bus", points=[[1, 1], [5, 1], [5, 5]], line_color=None),
    ]  # no shape_type: a polygon
    write_lm(
        src,
        "v3.json",
        v3,
        version="3.16.7",
        flags=None,
        lineColor=[0, 255, 0, 128],
        fillColor=[255, 0, 0, 128],
    )
    write_lm(
        src,
        "v5.json",
        [rect(0, 0, 50, 50, group=3), shape("nose", points=[(10, 10)], group=3)],
        version="5.4.1",
    )
    v6 = [
        dict(rect(0, 0, 50, 50), description="a car", mask=None),
        dict(shape("nose", points=[(10, 10)]), description="", mask=None),
        dict(shape("m", "mask", [(0, 0), (4, 4)]), mask="iVBORw0KGgo=", description=""),
    ]
    write_lm(src, "v6.json", v6, version="6.0.0", description="6.x-like file")
    report = convert(src, tmp_path / "out", keypoints=KPTS)
    assert report.files_converted == 3 and not report.skipped
    assert [a["keypoints"][:3] for a in all_anns(tmp_path / "out")] == [[10, 10, 2]] * 3
    assert report.skipped_shapes == {"mask": 1, "polygon": 1}


def test_image_paths_windows_absolute_embedded_and_non_ascii(tmp_path):
    src, images = tmp_path / "src", tmp_path / "src" / "images"
    images.mkdir(parents=True)
    pts = [rect(0, 0, 50, 50), shape("nose", points=[(10, 10)])]
    (images / "win.png").write_bytes(png_bytes())
    write_lm(src, "labels/win.json", pts, image="..\\images\\win.png")
    (src / "elsewhere").mkdir()  # an absolute imagePath inside SRC is fine (outside: test_convert_paths.py)
    (src / "elsewhere" / "abs.png").write_bytes(png_bytes())
    write_lm(src, "labels/abs.json", pts, image=str(src / "elsewhere" / "abs.png"))
    (src / "labels" / "frombase.png").write_bytes(png_bytes())
    write_lm(
        src, "labels/frombase.json", pts, image="C:\\Users\\me\\Desktop\\frombase.png"
    )  # found by its name
    write_lm(src, "embedded.json", pts, image="gone.jpg", imageData=base64.b64encode(png_bytes()).decode())
    (src / "données").mkdir()
    (src / "données" / "voiture_été.png").write_bytes(png_bytes())
    write_lm(src, "données/voiture_été.json", pts)

    report = convert(src, tmp_path / "out", keypoints=KPTS, images="copy")
    assert report.files_converted == 5, report.skipped
    names = sorted(img["file_name"] for img in coco(tmp_path / "out")["images"])
    assert names == [
        "données/voiture_été.png",
        "embedded.png",
        "labels/abs.png",
        "labels/frombase.png",
        "labels/win.png",
    ]
    import cv2

    for (
        name
    ) in names:  # every image is really there, the embedded one decoded from imageData (a PNG, not .jpg)
        img = cv2.imdecode(np.fromfile(tmp_path / "out" / "images" / name, np.uint8), cv2.IMREAD_COLOR)
        assert img.shape == (80, 100, 3)
    assert "\\u00e9" in (tmp_path / "out" / "annotations" / "train.json").read_text()  # ASCII JSON

    report = convert(src, tmp_path / "none", keypoints=KPTS, images="none")
    names = sorted(img["file_name"] for img in coco(tmp_path / "none")["images"])
    assert "images/win.png" in names and "données/voiture_été.png" in names  # relative to SRC
    assert not (tmp_path / "none" / "images").exists()

    report = convert(src, tmp_path / "link", keypoints=KPTS, images="link")
    linked = tmp_path / "link" / "images" / "labels" / "win.png"
    assert linked.stat().st_ino == (images / "win.png").stat().st_ino or linked.is_symlink()


# --- bad input ------------------------------------------------------------------------------------

BAD = {
    "invalid JSON": ("{not json", "invalid JSON"),
    "missing image": (dict(image="nowhere.png"), "image file not found (imagePath 'nowhere.png'"),
    "unknown label": ([shape("tail", points=[(5, 5)])], "unknown keypoint label 'tail' (shape 1)"),
    "non-numeric": ([shape("nose", points=[("5", 5)])], "point 'nose' (shape 1) has non-numeric coordinates"),
    "outside": (
        [shape("nose", points=[(102.5, 5)])],
        "point 'nose' (shape 1) at (102.5, 5) is outside the 100x80 image (tolerance 1 px)",
    ),
    "no height": (dict(imageHeight=None), "missing imageHeight"),
    "duplicate": (
        [
            rect(0, 0, 50, 50, group=1),
            shape("nose", points=[(5, 5)], group=1),
            shape("nose", points=[(6, 6)], group=1),
        ],
        "keypoint 'nose' appears twice in the instance of rectangle 'car' (shape 1) (shapes 2 and 3)",
    ),
    "ambiguous": ([rect(0, 0, 50, 50), rect(10, 10, 60, 60), shape("nose", points=[(20, 20)])], "ambiguous"),
    "not labelme": ('{"hello": 1}', "not a labelme file"),
    # before: written out as images/....png, to fail only when training opened it
    "text imageData": (dict(imageData=base64.b64encode(b"hello, not an image").decode()),
                       "imageData is not an image (its 19 bytes start b'hello, n'"),
}


def _write_bad(folder: Path, case: str) -> Path:
    content, _ = BAD[case]
    name = f"bad {case}.json"
    if isinstance(content, str):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(content)
        return folder / name
    if isinstance(content, dict):
        return write_lm(folder, name, [shape("nose")], **content)
    return write_lm(folder, name, content)


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_names_the_file_and_the_problem(tmp_path, case):
    src = tmp_path / "src"
    bad = _write_bad(src, case)
    good = write_lm(src, "good.json", [shape("nose", points=[(5, 5)])])
    (src / "good.png").write_bytes(png_bytes())
    (src / f"bad {case}.png").write_bytes(png_bytes())
    images = "copy" if case in ("missing image", "text imageData") else "none"
    report = convert(src, tmp_path / "out", keypoints=KPTS, images=images)
    assert [s["file"] for s in report.skipped] == [str(bad)]
    assert BAD[case][1] in report.skipped[0]["reason"]
    assert report.files_converted == 1 and str(good) not in json.dumps(report.skipped)
    with pytest.raises(MmpxError) as err:
        convert(src, tmp_path / "strict", keypoints=KPTS, images=images, strict=True)
    assert str(bad) in err.value.message and BAD[case][1] in err.value.message and err.value.hint
    assert not (tmp_path / "strict").exists()


def test_unknown_label_hint_lists_the_known_keypoints(tmp_path):
    write_lm(tmp_path / "src", "a.json", [shape("tail")])
    with pytest.raises(MmpxError) as err:
        convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS, strict=True)
    assert err.value.hint.startswith("known keypoints: nose, left-front-tire, right-front-tire")


def test_small_overshoot_is_clipped(tmp_path):
    write_lm(tmp_path / "src", "a.json", [shape("nose", points=[(100.6, -0.4)]), rect(-0.5, 0, 100.9, 80.2)])
    convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS)
    (ann,) = all_anns(tmp_path / "out")
    assert ann["keypoints"][:3] == [100, 0, 2] and ann["bbox"] == [0, 0, 100, 80]


def test_nothing_to_convert_is_one_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(MmpxError, match="no .json files under"):
        convert(tmp_path / "empty", tmp_path / "out")
    write_lm(tmp_path / "src", "a.json", [rect(0, 0, 10, 10)])
    with pytest.raises(MmpxError, match="no point shapes found"):
        convert(tmp_path / "src", tmp_path / "out")
    with pytest.raises(MmpxError, match="--val-ratio"):
        convert(tmp_path / "src", tmp_path / "out", keypoints=KPTS, val_ratio=1.0)
    assert not (tmp_path / "out").exists()


# --- output: atomic, ids, split, metainfo, loaders ------------------------------------------------


def _dataset(src: Path, n: int = 10) -> Path:
    for i in range(n):
        write_lm(
            src,
            f"img{i:03d}.json",
            [
                rect(0, 0, 60, 60, group=1),
                shape("nose", points=[(i % 50, 5)], group=1),
                shape("left-front-tire", points=[(10, 50)], group=1),
                shape("right-front-tire", points=[(50, 50)], group=1),
            ],
        )
    return src


def test_failure_mid_run_leaves_no_output_and_keeps_the_old_one(tmp_path, monkeypatch):
    src, out = _dataset(tmp_path / "src"), tmp_path / "out"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(labelme_mod, "write_metainfo", boom)
    with pytest.raises(OSError, match="disk full"):
        convert(src, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]  # no OUT, no staging folder left

    monkeypatch.undo()
    convert(src, out, val_ratio=0.2)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    monkeypatch.setattr(labelme_mod, "write_metainfo", boom)
    with pytest.raises(OSError):
        convert(src, out, overwrite=True, val_ratio=0.5)
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]


def test_existing_out_needs_overwrite_which_replaces_it(tmp_path):
    src, out = _dataset(tmp_path / "src"), tmp_path / "out"
    out.mkdir()
    convert(src, out)  # an empty folder is fine
    with pytest.raises(MmpxError, match="already exists and is not empty") as err:
        convert(src, out)
    assert "--overwrite" in err.value.hint
    (out / "stale.txt").write_text("old")
    convert(src, out, overwrite=True)
    assert not (out / "stale.txt").exists() and (out / "metainfo.py").is_file()


def test_ids_and_split_are_stable_for_a_seed(tmp_path):
    src = _dataset(tmp_path / "src", 20)
    runs = [convert(src, tmp_path / f"o{i}", val_ratio=0.25, seed=seed) for i, seed in enumerate((3, 3, 4))]
    texts = [(tmp_path / f"o{i}" / "annotations" / "val.json").read_text() for i in range(3)]
    assert texts[0] == texts[1] and texts[0] != texts[2]
    assert runs[0].images == {"train": 15, "val": 5}
    ids = [a["id"] for a in all_anns(tmp_path / "o0")] + [
        i["id"] for s in ("train", "val") for i in coco(tmp_path / "o0", s)["images"]
    ]
    assert len(ids) == len(set(ids[:20])) + len(set(ids[20:]))  # unique annotation ids, unique image ids
    convert(src, tmp_path / "zero", val_ratio=0)
    assert coco(tmp_path / "zero", "val")["images"] == [] and len(coco(tmp_path / "zero")["images"]) == 20


def test_workers_give_the_same_output(tmp_path):
    src = _dataset(tmp_path / "src", 300)
    _write_bad(src, "ambiguous")
    reports = [convert(src, tmp_path / f"w{w}" / "out", workers=w, val_ratio=0.2) for w in (0, 2)]
    for name in ("annotations/train.json", "annotations/val.json", "metainfo.py"):
        assert (tmp_path / "w0" / "out" / name).read_bytes() == (tmp_path / "w2" / "out" / name).read_bytes()
    assert reports[0].skipped == reports[1].skipped and len(reports[0].skipped) == 1


@pytest.mark.stack
def test_inferred_names_metainfo_and_loaders(tmp_path):
    src = _dataset(tmp_path / "src", 4)
    report = convert(src, tmp_path / "out", category="car")
    assert report.keypoint_names == ["left-front-tire", "nose", "right-front-tire"]
    assert report.keypoints_source.startswith("inferred")
    cat = coco(tmp_path / "out")["categories"][0]
    assert cat["name"] == "car" and cat["keypoints"] == report.keypoint_names

    from xtcocotools.coco import COCO

    api = COCO(str(tmp_path / "out" / "annotations" / "train.json"))
    assert len(api.getAnnIds()) == 4 and api.loadCats(1)[0]["keypoints"] == report.keypoint_names

    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    meta = parse_pose_metainfo(dict(from_file=str(tmp_path / "out" / "metainfo.py")))
    assert meta["num_keypoints"] == 3 and list(meta["flip_indices"]) == [2, 1, 0]  # tires swap, nose stays


def test_metainfo_option_gives_order_skeleton_and_swaps(tmp_path):
    from mmpx.metainfo import build_metainfo, write_metainfo

    meta = tmp_path / "cars.py"
    write_metainfo(
        meta,
        build_metainfo(
            "cars",
            ["right-front-tire", "nose", "left-front-tire"],
            skeleton=[("nose", "left-front-tire"), ("nose", "right-front-tire")],
            sigmas=[0.05, 0.03, 0.05],
        ),
    )
    report = convert(_dataset(tmp_path / "src", 2), tmp_path / "out", metainfo=meta)
    assert report.keypoint_names == ["right-front-tire", "nose", "left-front-tire"]
    assert coco(tmp_path / "out")["categories"][0]["skeleton"] == [[2, 3], [2, 1]]
    text = (tmp_path / "out" / "metainfo.py").read_text()
    assert "'dataset_name': 'cars'" in text and "0.05" in text and "'swap': 'left-front-tire'" in text
    with pytest.raises(MmpxError, match="not both"):
        convert(tmp_path / "src", tmp_path / "o2", metainfo=meta, keypoints=KPTS)


def test_progress_is_reported(tmp_path):
    seen = []
    convert(
        _dataset(tmp_path / "src", 3),
        tmp_path / "out",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)


def test_real_labelme_examples_convert(tmp_path, shared_data):
    src = shared_data / "labelme-examples"  # rectangles, polygons, primitives; one stray point, one imageData
    report = convert(src, tmp_path / "out", keypoints="point")
    assert report.files_read == 6 and report.files_converted == 5
    ((skipped),) = report.skipped
    assert skipped["file"].endswith("examples_primitives_primitives.json")
    assert "point 'point' (shape 6) at (345, 174) lies in no rectangle" in skipped["reason"]
    assert report.skipped_shapes == {"polygon": 10}  # shapes of the converted files
    assert report.instances == report.instances_without_keypoints == len(report.warnings) == 6  # rectangles
    # with images copied, only the file with embedded imageData has its image; the others are listed
    report = convert(src, tmp_path / "copy", keypoints="point", images="copy")
    assert report.files_converted == 1 and len(report.skipped) == 5
    assert sum("image file not found" in s["reason"] for s in report.skipped) == 4
    (image,) = coco(tmp_path / "copy")["images"] + coco(tmp_path / "copy", "val")["images"]
    from PIL import Image

    with Image.open(tmp_path / "copy" / "images" / image["file_name"]) as img:
        assert img.size == (image["width"], image["height"]) == (1210, 907)
    with pytest.raises(MmpxError, match="no point shapes found in the 6 labelme file"):
        convert(src, tmp_path / "inferred")  # the one point lies outside its file's rectangles


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_passes_options_and_prints_a_summary(tmp_path, monkeypatch):
    src = _dataset(tmp_path / "src", 3)
    app = build_app(load_plugins(distributions=[], env={}))
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "convert",
            "labelme",
            str(src),
            str(tmp_path / "out"),
            "--images",
            "none",
            "--val-ratio",
            "0",
            "--category",
            "car",
        ],
        env={"COLUMNS": "160"},
    )
    assert result.exit_code == 0, result.output
    assert "mmpx convert labelme" in result.output and "inferred from the point labels" in result.output
    assert "collected from the point labels, in sorted order" in result.output

    seen = {}
    monkeypatch.setattr(
        "mmpx.convert.labelme.convert_labelme",
        lambda src, out, **kw: seen.update(kw) or labelme_mod.Report("labelme", str(src), str(out)),
    )
    result = runner.invoke(
        app,
        [
            "convert",
            "labelme",
            "S",
            "O",
            "--keypoints",
            "a,b",
            "--seed",
            "7",
            "--strict",
            "--images",
            "link",
            "--overwrite",
            "--workers",
            "0",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        seen["keypoints"],
        seen["seed"],
        seen["strict"],
        seen["images"],
        seen["overwrite"],
        seen["workers"],
    ) == ("a,b", 7, True, "link", True, 0)
    assert json.loads(result.output)["converter"] == "labelme"


def test_cli_error_is_one_line_and_no_heavy_imports(tmp_path):
    src = _dataset(tmp_path / "src", 2)
    write_lm(src, "broken.json", [shape("tail")])
    code = (
        "import sys\n"
        "from mmpx.cli.main import main\n"
        f"args = ['convert', 'labelme', {str(src)!r}, {str(tmp_path / 'out')!r}, '--images', 'none']\n"
        "try:\n    main(args)\n"
        "except SystemExit:\n    pass\n"
        "heavy = [m for m in ('torch', 'mmengine', 'mmcv', 'mmpose', 'mmpose_ext') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    result = run([sys.executable, "-c", code], env={"COLUMNS": "160"})
    assert result.returncode == 0 and "HEAVY []" in result.stdout, result.stderr
    assert (tmp_path / "out" / "annotations" / "train.json").is_file()
    result = run(
        [
            sys.executable,
            "-m",
            "mmpx",
            "convert",
            "labelme",
            str(src),
            str(tmp_path / "o2"),
            "--images",
            "none",
            "--keypoints",
            "nose",
            "--strict",
        ]
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        f"error: {src / 'broken.json'}: unknown keypoint label 'tail'" in result.stderr.replace("\n", " ")
        or "unknown keypoint label 'tail'" in result.stderr
    )
    assert not (tmp_path / "o2").exists()
    shutil.rmtree(tmp_path / "out")


def test_label_typos_and_rare_labels_are_warned_when_names_are_inferred(tmp_path):
    """Without --keypoints a typo label silently became a keypoint of its own."""
    from mmpx.convert.label_check import suspicious_labels

    src = tmp_path / "src"
    for i in range(20):
        labels = ["left_front_tire", "right_front_tire", "kpt_1", "kpt_11"]
        if i == 7:
            labels[0] = "left_font_tire"  # the typo
        if i == 12:
            labels.append("mirror")  # a keypoint labelled once
        write_lm(src, f"img{i:02d}.json", [shape(name, points=[(10 + j, 10 + j)]) for j, name in enumerate(labels)])
        (src / f"img{i:02d}.png").write_bytes(png_bytes())
    report = convert(src, tmp_path / "out")
    warned = {w["message"].split("'")[1]: w for w in report.warnings}
    assert set(warned) == {"left_font_tire", "mirror"}, report.warnings
    assert warned["left_font_tire"]["file"] == str(src / "img07.json")
    assert "near-spelling of 'left_front_tire' (19)" in warned["left_font_tire"]["message"]
    assert warned["mirror"]["file"] == str(src / "img12.json")
    assert "used on 1 instance(s)" in warned["mirror"]["message"]
    assert json.loads((tmp_path / "out" / "report.json").read_text())["warnings"] == report.warnings
    names = ["left_front_tire", "right_front_tire", "left_rear_tire", "left_eye", "left_ear", "kpt_1", "kpt_10"]
    assert suspicious_labels({n: 50 for n in names}) == []  # real keypoints: no warning
