"""`mmpx convert labelme SRC OUT --append`: old records, ids and split stay; new ids continue; duplicates and name
collisions; per-file problems; a failed append leaves OUT byte for byte as it was; refusals; loaders; the CLI."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmpx.check import check_data_report
from mmpx.cli.main import build_app
from mmpx.convert.labelme_append import append_labelme
from mmpx.convert.output import val_indices, written_by_mmpx
from mmpx.errors import MmpxError
from mmpx.plugins.manager import load_plugins
from mmpx.synth.carpose import synth_carpose
from mmpx.testing import carpose_data, run_cli
from tests.mmpx.convert.test_convert_labelme import KPTS, png_bytes, rect, shape, write_lm
from tests.mmpx.convert.test_convert_labelme import convert as convert_plain


def coco(out: Path, split: str) -> dict:
    return json.loads((out / "annotations" / f"{split}.json").read_text())


def snapshot(out: Path) -> dict:
    """Every file (bytes, or a symlink's target) and folder under ``out``, and what lies beside it."""
    files = {}
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out).as_posix()
        files[rel] = ("link", str(path.readlink())) if path.is_symlink() else \
            ("dir",) if path.is_dir() else path.read_bytes()
    return dict(files=files, beside=sorted(p.name for p in out.parent.iterdir()))


def record_lines(text: str) -> set[str]:
    """The records of a COCO file as written, one a line (the last of a list ends ``}]``)."""
    return {line.removesuffix(",").removesuffix("]") for line in text.splitlines() if line.startswith('{"id"')}


def batch(folder: Path, n: int, seed: int) -> Path:
    """``n`` newly labelled car images (labelme + JPEG): named 000000.json ... like the base dataset's."""
    synth_carpose(folder, n=n, seed=seed, size=64, max_cars=1, occlusion=0.0)
    (folder / ".mmpx-synth").unlink()
    return folder


@pytest.fixture
def base(tmp_path) -> Path:
    return carpose_data(tmp_path / "base", n=8, size=64)


def _no_errors(out: Path) -> None:
    for split in ("train", "val"):
        report = check_data_report(out / "annotations" / f"{split}.json", out / "images", out / "metainfo.py")
        assert report.errors == 0, [p for p in report.problems]


# --- what stays, what is added --------------------------------------------------------------------


def test_append_keeps_old_records_split_and_files_and_continues_ids(base, tmp_path):
    before = snapshot(base)
    old = {split: coco(base, split) for split in ("train", "val")}
    old_text = {split: (base / "annotations" / f"{split}.json").read_text() for split in ("train", "val")}
    old_report = json.loads((base / "report.json").read_text())
    new = batch(tmp_path / "batch1", 5, seed=1)

    report = append_labelme(new, base, val_ratio=0.4, seed=3)

    assert report.files_read == report.files_converted == 5 and not report.skipped and not report.duplicates
    assert report.images == {"train": 3, "val": 2}  # the new files' own split
    val = val_indices(5, 0.4, 3)
    for split in ("train", "val"):
        now = coco(base, split)
        n = len(old[split]["images"])
        # old records first, as they were (text too), then the new ones; info and category unchanged
        assert now["images"][:n] == old[split]["images"]
        assert now["annotations"][: len(old[split]["annotations"])] == old[split]["annotations"]
        assert record_lines(old_text[split]) <= record_lines((base / "annotations" / f"{split}.json").read_text())
        assert now["categories"] == old[split]["categories"] and now["info"] == old[split]["info"]
        new_ids = [img["id"] for img in now["images"][n:]]
        assert new_ids == sorted(9 + i for i in range(5) if (i in val) == (split == "val"))
    old_anns = max(a["id"] for s in ("train", "val") for a in old[s]["annotations"])
    anns = sorted(a["id"] for s in ("train", "val") for a in coco(base, s)["annotations"])
    assert anns == list(range(1, old_anns + report.instances + 1))
    assert report.first_ids == dict(image=9, annotation=old_anns + 1)
    # existing images, metainfo untouched; the new 000000.jpg gets a name of its own
    for rel, content in before["files"].items():
        if rel.startswith("images/") or rel == "metainfo.py":
            assert (base / rel).read_bytes() == content, rel
    names = [img["file_name"] for s in ("train", "val") for img in coco(base, s)["images"]]
    assert "000000-2.jpg" in names and "000004.jpg" not in names[:8], names
    assert (base / "images" / "000000-2.jpg").read_bytes() == (new / "000000.jpg").read_bytes()
    assert (base / "images" / "000000.jpg").read_bytes() == before["files"]["images/000000.jpg"]
    # report.json: the first run's record as it was, this append in a list, the totals
    saved = json.loads((base / "report.json").read_text())
    assert written_by_mmpx(base) and {k: saved[k] for k in old_report} == old_report
    (entry,) = saved["appends"]
    assert entry["src"] == str(new) and entry["images"] == {"train": 3, "val": 2} and entry["duplicates"] == []
    assert saved["dataset"]["images"] == {"train": len(old["train"]["images"]) + 3,
                                          "val": len(old["val"]["images"]) + 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "batch1"]  # no staging folder left
    _no_errors(base)
    xtcocotools = pytest.importorskip("xtcocotools.coco")
    api = xtcocotools.COCO(str(base / "annotations" / "train.json"))
    assert len(api.getImgIds()) == len(old["train"]["images"]) + 3


def test_a_second_append_continues_after_the_first(base, tmp_path):
    append_labelme(batch(tmp_path / "b1", 3, seed=1), base, val_ratio=0)
    first = json.loads((base / "report.json").read_text())
    after_first = {s: coco(base, s) for s in ("train", "val")}
    report = append_labelme(batch(tmp_path / "b2", 4, seed=2), base, val_ratio=0.25)
    assert report.first_ids["image"] == 12 and report.images == {"train": 3, "val": 1}
    saved = json.loads((base / "report.json").read_text())
    assert saved["appends"][0] == first["appends"][0] and len(saved["appends"]) == 2
    ids = [img["id"] for s in ("train", "val") for img in coco(base, s)["images"]]
    assert sorted(ids) == list(range(1, 16))
    for split in ("train", "val"):
        n = len(after_first[split]["images"])
        assert coco(base, split)["images"][:n] == after_first[split]["images"]
    # the second batch's 000000.jpg collides with images/000000.jpg and the first batch's 000000-2.jpg
    assert (base / "images" / "000000-3.jpg").read_bytes() == (tmp_path / "b2" / "000000.jpg").read_bytes()
    _no_errors(base)


def test_duplicates_are_reported_and_not_added(base, tmp_path):
    labelme, new = base.parent / "labelme", tmp_path / "new"
    new.mkdir()
    again = json.loads((labelme / "000003.json").read_text())
    (new / "again.jpg").write_bytes((labelme / "000003.jpg").read_bytes())  # same bytes, another name
    (new / "again.json").write_text(json.dumps(dict(again, imagePath="again.jpg")))
    embedded = dict(again, imagePath="gone.jpg",
                    imageData=base64.b64encode((labelme / "000005.jpg").read_bytes()).decode())
    (new / "embedded.json").write_text(json.dumps(embedded))  # the same image, embedded
    for name in ("twin_a", "twin_b"):  # the same new image twice
        (new / f"{name}.png").write_bytes(png_bytes(64, 64))
        write_lm(new, f"{name}.json", [shape("left_front_bumper", points=[(5, 5)])], width=64, height=64)
    old_images = {s: len(coco(base, s)["images"]) for s in ("train", "val")}
    image_id = {img["file_name"]: img["id"] for s in ("train", "val") for img in coco(base, s)["images"]}

    report = append_labelme(new, base, val_ratio=0)

    dupes = {Path(d["file"]).name: (d["duplicate_of"], d["image_id"]) for d in report.duplicates}
    assert dupes == {"again.json": ("images/000003.jpg", image_id["000003.jpg"]),
                     "embedded.json": ("images/000005.jpg", image_id["000005.jpg"]),
                     "twin_b.json": ("images/twin_a.png", 9 + 2)}  # twin_a: the 3rd new file
    assert report.files_converted == 1 and report.images == {"train": 1, "val": 0}
    assert [img["file_name"] for img in coco(base, "train")["images"][old_images["train"]:]] == ["twin_a.png"]
    assert not (base / "images" / "again.jpg").exists() and not (base / "images" / "twin_b.png").exists()
    saved = json.loads((base / "report.json").read_text())["appends"][0]
    assert saved["duplicates"] == report.duplicates and saved["files_converted"] == 1
    _no_errors(base)


def test_unknown_keypoint_label_is_a_per_file_problem(base, tmp_path):
    new = batch(tmp_path / "new", 2, seed=1)
    write_lm(new, "tail.json", [shape("tail", points=[(5, 5)])], width=64, height=64)
    (new / "tail.png").write_bytes(png_bytes(64, 64))
    report = append_labelme(new, base)
    ((skipped),) = report.skipped
    assert skipped["file"] == str(new / "tail.json") and "unknown keypoint label 'tail'" in skipped["reason"]
    assert "left_front_bumper" in skipped["hint"] and report.files_converted == 2
    assert not list((base / "images").glob("tail*"))


# --- atomic ---------------------------------------------------------------------------------------


def test_a_failed_or_interrupted_append_leaves_out_as_it_was(base, tmp_path):
    new = batch(tmp_path / "new", 4, seed=1)
    write_lm(new, "zzz-bad.json", [shape("tail", points=[(5, 5)])], width=64, height=64)  # last in the list
    (new / "zzz-bad.png").write_bytes(png_bytes(64, 64))
    before = snapshot(base)
    with pytest.raises(MmpxError, match=r"zzz-bad\.json: unknown keypoint label 'tail'"):
        append_labelme(new, base, strict=True)
    assert snapshot(base) == before

    def interrupt(done, total):
        if done == total:  # every file read, images placed: just before the COCO files are written
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        append_labelme(new, base, progress=interrupt)
    assert snapshot(base) == before
    append_labelme(new, base)  # and the same append then works
    assert snapshot(base) != before


# --- refusals -------------------------------------------------------------------------------------


def test_refusals(base, tmp_path):
    new = batch(tmp_path / "new", 2, seed=1)
    before = snapshot(base)
    with pytest.raises(MmpxError, match="does not exist: there is no dataset to append to") as err:
        append_labelme(new, tmp_path / "nowhere")
    assert "drop --append" in err.value.hint and not (tmp_path / "nowhere").exists()
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(MmpxError, match="is not a dataset written by mmpx convert labelme") as err:
        append_labelme(new, other)
    assert "without --append" in err.value.hint
    with pytest.raises(MmpxError, match="names the keypoints nose, tail, but the dataset") as err:
        append_labelme(new, base, keypoints="nose,tail")
    assert "drop --keypoints" in err.value.hint
    names = coco(base, "train")["categories"][0]["keypoints"]
    with pytest.raises(MmpxError, match="in this order"):
        append_labelme(new, base, keypoints=list(reversed(names)))
    from mmpx.metainfo import build_metainfo, write_metainfo

    write_metainfo(tmp_path / "other.py", build_metainfo("cars", list(reversed(names))))
    with pytest.raises(MmpxError, match=r"--metainfo .*other\.py names the keypoints right_rear_tire, "):
        append_labelme(new, base, metainfo=tmp_path / "other.py")
    with pytest.raises(MmpxError, match="--category 'bus', but the dataset"):
        append_labelme(new, base, category="bus")
    with pytest.raises(MmpxError, match="--images none, but the dataset .* was converted with --images copy"):
        append_labelme(new, base, images="none")
    broken = tmp_path / "broken"
    shutil.copytree(base, broken)
    (broken / "annotations" / "val.json").unlink()
    with pytest.raises(MmpxError, match=r"annotations/val\.json is missing"):
        append_labelme(new, broken)
    assert snapshot(base) == before
    with pytest.raises(MmpxError, match="not both"):
        append_labelme(new, base, keypoints=",".join(names), metainfo=base / "metainfo.py")
    report = append_labelme(new, base, keypoints=",".join(names), category="car")  # agreeing
    assert report.files_converted == 2
    report = append_labelme(new, base, metainfo=base / "metainfo.py")  # the dataset's own file: agrees
    assert len(report.duplicates) == 2  # the same files again


def test_cli_refuses_append_with_overwrite_or_workers(base, tmp_path):
    app = build_app(load_plugins(distributions=[], env={}))
    (tmp_path / "new").mkdir()  # beside the dataset: SRC holding it is refused first (the output guard)
    args = ["convert", "labelme", str(tmp_path / "new"), str(base), "--append"]
    result = CliRunner().invoke(app, [*args, "--overwrite"])
    assert result.exit_code != 0 and "--append and --overwrite together" in str(result.exception)
    result = CliRunner().invoke(app, [*args, "--workers", "2"])
    assert result.exit_code != 0 and "--workers with --append" in str(result.exception)


# --- --images none, edited files ------------------------------------------------------------------


def test_images_none_names_new_images_relative_to_the_first_source(tmp_path):
    src, out = tmp_path / "labels", tmp_path / "out"
    for name in ("a", "b"):
        write_lm(src, f"{name}.json", [shape("nose", points=[(5, 5)])])
        (src / f"{name}.png").write_bytes(png_bytes(100, 80) if name == "a" else png_bytes(100, 81))
    convert_plain(src, out, keypoints=KPTS)
    (src / "b.png").unlink()  # an old image gone: duplicates of it cannot be seen
    new = src / "batch2"
    write_lm(new, "c.json", [rect(0, 0, 50, 50), shape("nose", points=[(5, 5)])])
    (new / "c.png").write_bytes(png_bytes(90, 80))
    write_lm(new, "a-again.json", [shape("nose", points=[(5, 5)])])
    (new / "a-again.png").write_bytes(png_bytes(100, 80))
    write_lm(new, "d.json", [shape("nose", points=[(5, 5)])], image="../elsewhere/d.png")  # not there
    report = append_labelme(new, out, val_ratio=0)
    assert report.images_mode == "none"
    names = [img["file_name"] for img in coco(out, "train")["images"]]
    assert names == ["a.png", "b.png", "batch2/c.png", "elsewhere/d.png"]
    assert [(Path(d["file"]).name, d["duplicate_of"]) for d in report.duplicates] == [("a-again.json", "a.png")]
    messages = [w["message"] for w in report.warnings]
    assert any("could not be read, so it was not checked for duplicates" in m for m in messages)
    assert any("1 existing image(s) could not be read (e.g. b.png)" in m for m in messages)
    assert not (out / "images").exists()


def test_a_coco_file_rewritten_by_another_tool_still_appends(base, tmp_path):
    path = base / "annotations" / "train.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data, indent=1))  # another layout: records are serialised anew
    append_labelme(batch(tmp_path / "new", 2, seed=1), base, val_ratio=0)
    now = json.loads(path.read_text())
    assert now["images"][: len(data["images"])] == data["images"] and now["info"] == data["info"]
    assert now["annotations"][: len(data["annotations"])] == data["annotations"]
    _no_errors(base)


# --- CLI ------------------------------------------------------------------------------------------


def test_cli_append_prints_what_was_added(base, tmp_path):
    new = batch(tmp_path / "new", 3, seed=1)
    shutil.copy(base.parent / "labelme" / "000002.jpg", new / "dup.jpg")
    doc = json.loads((base.parent / "labelme" / "000002.json").read_text())
    (new / "dup.json").write_text(json.dumps(dict(doc, imagePath="dup.jpg")))
    result = run_cli("convert", "labelme", new, base, "--append", "--val-ratio", "0", "--json")
    assert result.exit_code == 0, result.stderr
    shown = result.json()
    assert shown["files_converted"] == 3 and shown["images"] == {"train": 3, "val": 0}
    assert [Path(d["file"]).name for d in shown["duplicates"]] == ["dup.json"]
    assert shown["dataset"]["images"]["train"] == len(coco(base, "train")["images"])
    result = run_cli("convert", "labelme", new, base, "--append", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "mmpx convert labelme --append" in result.stdout and "4 / 0 / 4 / 0" in result.stdout
    assert "duplicate of images/000002.jpg" in result.stdout and "nothing was added" in result.stdout
    result = run_cli("convert", "labelme", new, base, "--append", "--overwrite")
    assert result.exit_code == 1 and "--append and --overwrite together" in result.stderr
