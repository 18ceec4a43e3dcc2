"""Converters read only what the dataset's own folder holds and write only inside OUT.

Before: a COCO ``file_name`` of ``../../../victim/notes.jpg`` made ``convert to-yolo`` overwrite ``victim/notes.txt``
(row 2); a labelme ``imagePath`` of ``/etc/passwd`` or ``../outside/x.png`` was copied into ``OUT/images`` (row 7);
``a.json`` and ``a.JSON`` both became ``images/a.png``, one image lost (row 8); a ``*.json`` FIFO hung ``convert``
and a link to ``/dev/zero`` grew without end (row 9); a symlinked subfolder put the same file in train and val
(row 12); a 0-byte image was copied without a word; a symlink given as OUT was replaced by a folder.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import yaml

from mmpx.convert.labelme import convert_labelme
from mmpx.convert.to_yolo import convert_to_yolo
from mmpx.convert.yolo import convert_yolo
from mmpx.errors import MmpxError
from tests.helpers import make_tiny_coco, run
from tests.mmpx.convert.test_convert_labelme import KPTS, png_bytes, rect, shape, write_lm
from tests.mmpx.convert.test_convert_yolo import make_yolo

POINTS = [rect(0, 0, 50, 50), shape("nose", points=[(10, 10)])]
HANG_LIMIT = 60  # seconds: a conversion of a handful of files that takes longer hangs


def mmpx(*args, timeout: int = HANG_LIMIT):
    return run([sys.executable, "-m", "mmpx", *map(str, args)], env={"COLUMNS": "200"}, timeout=timeout)


def files_outside(root: Path, out: Path) -> dict:
    """Every file under ``root`` except those of ``out``, with its bytes (links as their target)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != out]
        for name in names:
            p = Path(folder, name)
            found[str(p)] = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else "<special>"
    return found


def reasons(report) -> str:
    return json.dumps(report["skipped"] if isinstance(report, dict) else report.skipped)


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "this is unexpected" not in result.stderr, result.stderr
    return lines[0]


# --- row 2: COCO file_name outside the image folder (to-yolo) ----------------------------------------------------


def _coco_with_names(tmp_path: Path, names: list[str]) -> tuple[Path, Path]:
    """A tiny COCO dataset under tmp_path/x/y (images/ and annotations.json) whose first records use ``names``."""
    root = tmp_path / "x" / "y"
    ann = make_tiny_coco(root, num_images=max(3, len(names) + 1), size=64)
    coco = json.loads(ann.read_text())
    for image, name in zip(coco["images"], names, strict=False):
        image["file_name"] = name
    ann.write_text(json.dumps(coco))
    return ann, root / "images"


def test_to_yolo_file_name_outside_the_image_folder_is_skipped_and_named(tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("my notes")
    (victim / "notes.jpg").write_bytes(png_bytes())
    (victim / "abs.png").write_bytes(png_bytes())
    escape, absolute = "../../../victim/notes.jpg", str(victim / "abs.png")
    ann, images = _coco_with_names(tmp_path, [escape, absolute])
    out = tmp_path / "out"
    before = files_outside(tmp_path, out)

    result = mmpx("convert", "to-yolo", ann, out, "--images", images, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert files_outside(tmp_path, out) == before  # victim/notes.txt untouched, nothing new beside OUT
    assert report["files_converted"] == report["files_read"] - 2
    assert [s["file"] for s in report["skipped"]] == [str(ann)] * 2
    assert escape in reasons(report) and absolute in reasons(report) and "outside the image folder" in reasons(report)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert all(not name.startswith("..") for name in written) and "labels/train/notes.txt" not in written

    with pytest.raises(MmpxError, match=r"images\[0\].*'\.\./\.\./\.\./victim/notes\.jpg'.*outside"):
        convert_to_yolo(ann, tmp_path / "strict", images, strict=True)
    assert not (tmp_path / "strict").exists() and files_outside(tmp_path, out) == before


def test_to_yolo_split_name_cannot_leave_out(tmp_path):
    ann, images = _coco_with_names(tmp_path, [])
    with pytest.raises(MmpxError, match=r"--split '\.\./\.\./evil'.*plain folder name"):
        convert_to_yolo(ann, tmp_path / "out", images, split="../../evil")
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out").exists()


# --- row 7: labelme imagePath outside SRC ------------------------------------------------------------------------


def test_labelme_image_path_outside_src_is_skipped_and_named(tmp_path):
    src = tmp_path / "src"
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.png").write_bytes(png_bytes())
    bad = {
        "passwd.json": "/etc/passwd",
        "environ.json": "/proc/self/environ",
        "up.json": "../outside/x.png",
        "abs.json": str(tmp_path / "outside" / "x.png"),
    }
    for name, image in bad.items():
        write_lm(src, name, POINTS, image=image)
    # labelme's usual layout, JSON files and images in sibling folders inside SRC: must keep working
    (src / "images").mkdir()
    (src / "images" / "a.png").write_bytes(png_bytes())
    write_lm(src, "labels/a.json", POINTS, image="../images/a.png")
    out = tmp_path / "out"

    result = mmpx("convert", "labelme", src, out, "--keypoints", KPTS, "--val-ratio", "0", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(s["file"] for s in report["skipped"]) == sorted(str(src / n) for n in bad)
    assert all("outside the source folder" in s["reason"] for s in report["skipped"]), reasons(report)
    assert report["files_converted"] == 1
    copied = sorted(p.relative_to(out / "images").as_posix() for p in (out / "images").rglob("*") if p.is_file())
    assert copied == ["labels/a.png"]
    assert b"root:" not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())

    for mode in ("none", "link"):  # the same rule whatever --images says
        report = convert_labelme(src, tmp_path / mode, keypoints=KPTS, images=mode, val_ratio=0)
        assert sorted(s["file"] for s in report.skipped) == sorted(str(src / n) for n in bad), mode

    line = one_error_line(mmpx("convert", "labelme", src, tmp_path / "strict", "--keypoints", KPTS, "--strict"))
    assert str(src / "abs.json") in line and "outside the source folder" in line
    assert not (tmp_path / "strict").exists()


def test_an_image_path_outside_src_still_finds_the_image_beside_the_json(tmp_path):
    """A file labelled on another machine: its absolute imagePath is refused, its image beside it used."""
    src = tmp_path / "src"
    write_lm(src, "a.json", POINTS, image="/home/someone/Pictures/a.png")
    (src / "a.png").write_bytes(png_bytes())
    report = convert_labelme(src, tmp_path / "out", keypoints=KPTS, images="copy", val_ratio=0)
    assert report.files_converted == 1 and not report.skipped
    assert (tmp_path / "out" / "images" / "a.png").read_bytes() == png_bytes()


# --- row 8: two inputs, one output name --------------------------------------------------------------------------


def test_names_differing_only_in_case_are_both_named_never_overwritten(tmp_path):
    src = tmp_path / "src"
    for name in ("a.json", "a.JSON", "b.json", "B.json", "c.json"):
        write_lm(src, name, POINTS, image=f"{Path(name).stem}.png")
    (src / "a.png").write_bytes(png_bytes(100, 80))
    (src / "b.png").write_bytes(png_bytes(100, 80))
    (src / "B.png").write_bytes(png_bytes(100, 80))
    (src / "c.png").write_bytes(png_bytes(100, 80))
    out = tmp_path / "out"
    result = mmpx("convert", "labelme", src, out, "--keypoints", KPTS, "--val-ratio", "0", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    clashing = sorted(str(src / n) for n in ("a.json", "a.JSON", "b.json", "B.json"))
    assert sorted(s["file"] for s in report["skipped"]) == clashing
    assert all("differ only in case" in s["reason"] for s in report["skipped"]), reasons(report)
    assert report["files_converted"] == 1
    assert sorted(p.name for p in (out / "images").iterdir()) == ["c.png"]


def test_to_yolo_names_that_share_a_label_file_are_both_named(tmp_path):
    ann, images = _coco_with_names(tmp_path, ["000.png", "000.PNG", "train/000.png"])
    (images / "000.PNG").write_bytes(png_bytes())
    (images / "train").mkdir()
    (images / "train" / "000.png").write_bytes(png_bytes())
    report = convert_to_yolo(ann, tmp_path / "out", images, split="train")
    assert len(report.skipped) == 3 and report.files_converted == report.files_read - 3
    for name in ("'000.png'", "'000.PNG'", "'train/000.png'"):
        assert name in reasons(report)
    assert not (tmp_path / "out" / "labels" / "train" / "000.txt").exists()


def test_yolo_images_that_share_an_output_name_are_both_named(tmp_path):
    root = tmp_path / "yolo"
    make_yolo(root)
    (root / "more" / "train").mkdir(parents=True)
    (root / "more" / "train" / "a.png").write_bytes(png_bytes(64, 48))
    data = yaml_data(root)
    data["train"] = ["images/train", "more/train"]
    write_yaml(root, data)
    report = convert_yolo(root, tmp_path / "coco")
    assert sorted(s["file"] for s in report.skipped) == sorted(
        [str(root / "images" / "train" / "a.png"), str(root / "more" / "train" / "a.png")])
    assert "train/a.png" in reasons(report) and not (tmp_path / "coco" / "images" / "train" / "a.png").exists()


def yaml_data(root: Path) -> dict:
    return yaml.safe_load((root / "data.yaml").read_text())


def write_yaml(root: Path, data: dict) -> None:
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))


def test_yolo_list_file_entry_outside_the_dataset_is_skipped_and_named(tmp_path):
    root = tmp_path / "yolo"
    make_yolo(root)
    (tmp_path / "private.png").write_bytes(png_bytes(64, 48))
    (root / "train.txt").write_text(f"./images/train/a.png\n../private.png\n{tmp_path / 'private.png'}\n")
    data = yaml_data(root)
    data["train"] = "train.txt"
    write_yaml(root, data)
    report = convert_yolo(root, tmp_path / "coco")
    assert [s["file"] for s in report.skipped] == [f"{root / 'train.txt'}:2", f"{root / 'train.txt'}:3"]
    assert "outside the dataset folder" in reasons(report) and report.images["train"] == 1
    with pytest.raises(MmpxError, match=r"train\.txt:2: .*'\.\./private\.png'"):
        convert_yolo(root, tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()


# --- row 9: only regular files are read --------------------------------------------------------------------------


def test_fifo_and_device_files_are_named_not_read(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "good.json", POINTS)
    (src / "good.png").write_bytes(png_bytes())
    os.mkfifo(src / "pipe.json")
    (src / "zero.json").symlink_to("/dev/zero")
    write_lm(src, "fifo_image.json", POINTS)
    os.mkfifo(src / "fifo_image.png")
    write_lm(src, "device_image.json", POINTS, image="dev.png")
    (src / "dev.png").symlink_to("/dev/zero")
    out = tmp_path / "out"
    result = mmpx("convert", "labelme", src, out, "--keypoints", KPTS, "--val-ratio", "0", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    skipped = {Path(s["file"]).name: s["reason"] for s in report["skipped"]}
    assert sorted(skipped) == ["device_image.json", "fifo_image.json", "pipe.json", "zero.json"]
    assert "a named pipe (FIFO), not a regular file" in skipped["pipe.json"]
    assert "a character device, not a regular file" in skipped["zero.json"]
    assert "fifo_image.png is a named pipe (FIFO)" in skipped["fifo_image.json"]
    assert "dev.png is a character device" in skipped["device_image.json"]
    assert report["files_converted"] == 1

    line = one_error_line(mmpx("convert", "labelme", src, tmp_path / "strict", "--keypoints", KPTS, "--strict"))
    assert "not a regular file" in line and not (tmp_path / "strict").exists()


def test_yolo_and_to_yolo_never_open_a_fifo(tmp_path):
    """Through the CLI with a time limit: a FIFO opened for reading blocks, and a test in this process would too."""
    root = tmp_path / "yolo"
    make_yolo(root)
    os.mkfifo(root / "images" / "train" / "fifo.png")
    os.mkfifo(root / "labels" / "train" / "empty.txt")  # the label file of the image that has none
    result = mmpx("convert", "yolo", root, tmp_path / "coco", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    skipped = {s["file"]: s["reason"] for s in report["skipped"]}
    assert sorted(skipped) == [str(root / "images/train/fifo.png"), str(root / "labels/train/empty.txt")]
    assert all("a named pipe (FIFO), not a regular file" in reason for reason in skipped.values())

    ann, images = _coco_with_names(tmp_path, ["pipe.png"])
    os.mkfifo(images / "pipe.png")
    result = mmpx("convert", "to-yolo", ann, tmp_path / "back", "--images", images, "--json")
    assert result.returncode == 0, result.stderr
    assert "'pipe.png'" in reasons(json.loads(result.stdout)) and "named pipe" in result.stdout


def test_to_yolo_folder_holding_a_fifo_json_does_not_hang(tmp_path):
    ann, images = _coco_with_names(tmp_path, [])
    folder = tmp_path / "anns"
    folder.mkdir()
    (folder / "train.json").write_bytes(ann.read_bytes())
    os.mkfifo(folder / "val.json")
    line = one_error_line(mmpx("convert", "to-yolo", folder, tmp_path / "out", "--images", images))
    assert str(folder / "val.json") in line and "named pipe" in line


# --- row 12: the same file reached twice, links that loop ----------------------------------------------------------


def test_symlinked_folder_and_loops_give_each_file_once(tmp_path):
    src = tmp_path / "src"
    for i in range(6):
        write_lm(src, f"real/f{i}.json", POINTS, image=f"f{i}.png")
        (src / "real" / f"f{i}.png").write_bytes(png_bytes())
    (src / "alias").symlink_to("real")
    (src / "real" / "loop").symlink_to("..")  # a cycle back to SRC
    (src / "real" / "same.json").symlink_to("f0.json")  # the same file under another name
    (src / "self.json").symlink_to("self.json")  # a link to itself
    out = tmp_path / "out"
    result = mmpx("convert", "labelme", src, out, "--keypoints", KPTS, "--val-ratio", "0.5", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["files_converted"] == 6
    names = sorted(img["file_name"] for split in ("train", "val")
                   for img in json.loads((out / "annotations" / f"{split}.json").read_text())["images"])
    assert names == [f"real/f{i}.png" for i in range(6)]  # the real folder wins over its alias
    warned = {Path(w["file"]).name: w["message"] for w in report["warnings"]}
    assert "alias" in warned and "loop" in warned and "same.json" in warned, warned
    assert "searched once" in warned["alias"] and "converted once" in warned["same.json"]
    assert [Path(s["file"]).name for s in report["skipped"]] == ["self.json"]
    assert "symbolic links" in report["skipped"][0]["reason"]


# --- images that are no images ------------------------------------------------------------------------------------


def test_empty_or_undecodable_images_are_named_not_copied(tmp_path):
    src = tmp_path / "src"
    write_lm(src, "empty.json", POINTS)
    (src / "empty.png").write_bytes(b"")
    write_lm(src, "text.json", POINTS)
    (src / "text.png").write_text("hello, not an image")
    write_lm(src, "good.json", POINTS)
    (src / "good.png").write_bytes(png_bytes())
    report = convert_labelme(src, tmp_path / "out", keypoints=KPTS, images="copy", val_ratio=0)
    skipped = {Path(s["file"]).name: s["reason"] for s in report.skipped}
    assert sorted(skipped) == ["empty.json", "text.json"]
    assert "empty.png is empty (0 bytes)" in skipped["empty.json"]
    assert "text.png is not an image" in skipped["text.json"]
    assert sorted(p.name for p in (tmp_path / "out" / "images").iterdir()) == ["good.png"]

    root = tmp_path / "yolo"
    make_yolo(root)
    (root / "images" / "train" / "a.png").write_bytes(b"")
    report = convert_yolo(root, tmp_path / "coco")
    assert [s["file"] for s in report.skipped] == [str(root / "images" / "train" / "a.png")]

    ann, images = _coco_with_names(tmp_path, [])
    (images / "000.png").write_bytes(b"")
    report = convert_to_yolo(ann, tmp_path / "back", images)
    assert len(report.skipped) == 1 and "'000.png'" in reasons(report) and "empty (0 bytes)" in reasons(report)
    assert not (tmp_path / "back" / "images" / "train" / "000.png").exists()


# --- OUT given as a symbolic link ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["labelme", "yolo", "to-yolo"])
def test_out_that_is_a_symlink_is_refused_and_kept(tmp_path, command):
    target = tmp_path / "target"
    target.mkdir()
    out = tmp_path / "link"
    out.symlink_to(target)
    if command == "labelme":
        write_lm(tmp_path / "src", "a.json", POINTS)
        (tmp_path / "src" / "a.png").write_bytes(png_bytes())
        args = ["labelme", tmp_path / "src", out, "--keypoints", KPTS]
    elif command == "yolo":
        args = ["yolo", make_yolo(tmp_path / "yolo"), out]
    else:
        ann, images = _coco_with_names(tmp_path, [])
        args = ["to-yolo", ann, out, "--images", images]
    line = one_error_line(mmpx("convert", *args, "--overwrite"))
    assert f"{out} is a symbolic link" in line
    assert out.is_symlink() and os.readlink(out) == str(target) and not any(target.iterdir())
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no staging left


def test_append_to_a_symlinked_dataset_is_refused(tmp_path):
    from mmpx.convert.labelme_append import append_labelme

    write_lm(tmp_path / "src", "a.json", POINTS)
    (tmp_path / "src" / "a.png").write_bytes(png_bytes())
    convert_labelme(tmp_path / "src", tmp_path / "data", keypoints=KPTS, images="copy", val_ratio=0)
    (tmp_path / "link").symlink_to(tmp_path / "data")
    write_lm(tmp_path / "new", "b.json", POINTS)
    (tmp_path / "new" / "b.png").write_bytes(png_bytes())
    with pytest.raises(MmpxError, match="is a symbolic link"):
        append_labelme(tmp_path / "new", tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
