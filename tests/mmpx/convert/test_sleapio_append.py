"""`mmpx convert dlc|sleap|labelstudio SRC OUT --append`: a DeepLabCut project whose CSV grows, an .slp with more
frames (embedded, or image files), a Label Studio export: only the new frames are added, old records stay byte for
byte, ids continue, a second append adds nothing; other keypoints, a missing or foreign OUT and --strict with a bad
frame leave OUT as it was. Inputs are files sleap-io writes, over synthetic images."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from mmpx.check import check_data_report
from mmpx.convert.labelme import convert_labelme
from mmpx.convert.labelme_append import append_labelme
from mmpx.convert.sleapio import convert_sleapio
from mmpx.convert.sleapio_append import append_sleapio
from mmpx.errors import MmpxError
from mmpx.testing import run_cli
from tests.mmpx.convert.test_convert_append import coco, record_lines, snapshot
from tests.mmpx.convert.test_convert_labelme import rect, shape, write_lm

sio = pytest.importorskip("sleap_io", reason="the formats extra (sleap-io) is not installed")
cv2 = pytest.importorskip("cv2")
pytestmark = pytest.mark.filterwarnings("ignore")

NAMES = ["nose", "left_ear", "right_ear", "tail"]
SIZE = (48, 64)  # height, width


def pixels(i: int) -> np.ndarray:
    return np.random.default_rng(100 + i).integers(0, 255, (*SIZE, 3), np.uint8)


def points(i: int, shift: float = 0.0) -> np.ndarray:
    return np.random.default_rng(i).uniform(2, 40, (len(NAMES), 2)).round(2) + shift


def write_images(folder: Path, count: int) -> list[str]:
    """Frames img0000.png ...: written once, as a labelling tool leaves them (never rewritten)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i:04d}.png"
        if not path.exists():
            cv2.imwrite(str(path), pixels(i))
        paths.append(str(path))
    return paths


def labels_on(video, count: int, names=NAMES, shift: dict | None = None):
    """``count`` labelled frames of ``video``, one animal each; frame i's points are always the same (unless
    ``shift``ed: a label edited since)."""
    skeleton = sio.Skeleton(list(names), edges=[(names[0], names[-1])], name="mouse")
    order = [NAMES.index(n) if n in NAMES else 0 for n in names]
    frames = [sio.LabeledFrame(video=video, frame_idx=i, instances=[
        sio.Instance(points(i, (shift or {}).get(i, 0.0))[order], skeleton=skeleton)]) for i in range(count)]
    return sio.Labels(frames, videos=[video], skeletons=[skeleton])


def dlc_project(root: Path, count: int, names=NAMES, shift: dict | None = None) -> Path:
    """A DeepLabCut project with ``count`` labelled frames: config.yaml, labeled-data/cage1/img*.png, the CSV."""
    folder = root / "labeled-data" / "cage1"
    write_images(folder, count)
    video = sio.Video(filename=str(root / "videos" / "cage1.mp4"), open_backend=False)
    sio.save_csv(labels_on(video, count, names, shift), str(folder / "CollectedData_me.csv"), format="dlc",
                 scorer="me", include_score=False)
    (root / "config.yaml").write_text("Task: cage\nscorer: me\nmultianimalproject: false\nbodyparts:\n"
                                      + "".join(f"- {n}\n" for n in names) + "video_sets: {}\n")
    return root


def slp_file(path: Path, count: int, embed: bool, names=NAMES) -> Path:
    paths = write_images(path.parent / "frames", count)
    sio.save_slp(labels_on(sio.Video.from_filename(paths), count, names), str(path), embed=embed, verbose=False)
    return path


def old_records_kept(out: Path, before: dict) -> None:
    """Every record, every other file and every image the dataset had is still there, byte for byte."""
    for split in ("train", "val"):
        old = before["files"].get(f"annotations/{split}.json")
        if old is not None:
            now = (out / "annotations" / f"{split}.json").read_text()
            assert record_lines(old.decode()) <= record_lines(now)
            assert coco(out, split)["images"][: len(json.loads(old)["images"])] == json.loads(old)["images"]
    after = snapshot(out)["files"]
    for rel, content in before["files"].items():
        if rel not in ("annotations/train.json", "annotations/val.json", "report.json"):
            assert after[rel] == content, rel


def all_images(out: Path) -> list[dict]:
    return sorted((img for s in ("train", "val") if (out / "annotations" / f"{s}.json").exists()
                   for img in coco(out, s)["images"]), key=lambda r: r["id"])


def no_errors(out: Path) -> None:
    for split in ("train", "val"):
        if (out / "annotations" / f"{split}.json").exists():
            report = check_data_report(out / "annotations" / f"{split}.json", out / "images", out / "metainfo.py")
            assert report.errors == 0, list(report.problems)


# --- DeepLabCut: the project's CSV grows ---------------------------------------------------------


def test_dlc_project_grows_only_new_frames_are_added(tmp_path):
    project, out = dlc_project(tmp_path / "proj", 4), tmp_path / "data"
    convert_sleapio("dlc", project, out, val_ratio=0.5)
    before = snapshot(out)
    old_anns = max(a["id"] for s in ("train", "val") for a in coco(out, s)["annotations"])
    dlc_project(project, 7)  # three more frames labelled in the same project

    report = append_sleapio("dlc", project, out, val_ratio=0.34, seed=1)

    assert report.converter == "dlc" and report.files_read == 7 and report.files_converted == 3
    assert [d["duplicate_of"] for d in report.duplicates] == [f"images/cage1/img{i:04d}.png" for i in range(4)]
    assert report.images == {"train": 2, "val": 1} and report.instances == 3
    assert report.first_ids == {"image": 5, "annotation": old_anns + 1}
    old_records_kept(out, before)
    images = all_images(out)
    assert [r["id"] for r in images] == list(range(1, 8))  # ids continue, no gap
    assert [r["file_name"] for r in images[4:]] == [f"cage1/img{i:04d}.png" for i in range(4, 7)]
    new_anns = sorted(a["id"] for s in ("train", "val") for a in coco(out, s)["annotations"])[-3:]
    assert new_anns == [old_anns + 1, old_anns + 2, old_anns + 3]
    for record in images[4:]:  # the labels of the new frames, in the dataset's keypoint order
        i = int(record["file_name"][-8:-4])
        ann = next(a for s in ("train", "val") for a in coco(out, s)["annotations"] if a["image_id"] == record["id"])
        assert np.allclose(np.array(ann["keypoints"]).reshape(-1, 3)[:, :2], points(i), atol=0.01)
    saved = json.loads((out / "report.json").read_text())
    assert saved["converter"] == "dlc" and [a["converter"] for a in saved["appends"]] == ["dlc"]
    assert saved["dataset"] == {"images": {"train": 4, "val": 3}, "instances": 7}
    no_errors(out)

    after = snapshot(out)
    again = append_sleapio("dlc", project, out)  # the same project again: every frame is there
    assert again.files_converted == 0 and len(again.duplicates) == 7 and not again.warnings
    now = snapshot(out)["files"]
    assert {k: v for k, v in now.items() if k != "report.json"} == \
        {k: v for k, v in after["files"].items() if k != "report.json"}
    assert len(json.loads((out / "report.json").read_text())["appends"]) == 2


def test_dlc_edited_label_warned_changed_frame_gets_a_free_name_order_mapped_by_name(tmp_path):
    project, out = dlc_project(tmp_path / "proj", 3), tmp_path / "data"
    convert_sleapio("dlc", project, out, val_ratio=0)
    before = snapshot(out)
    assert not (out / "annotations" / "val.json").exists()  # nothing went to val
    image = project / "labeled-data" / "cage1" / "img0002.png"
    cv2.imwrite(str(image), pixels(99))  # frame 2 extracted again: other pixels, same name
    dlc_project(project, 4, names=list(reversed(NAMES)), shift={1: 3.0})  # frame 1 relabelled, order reversed

    report = append_sleapio("dlc", project, out, val_ratio=0.5)

    assert [d["duplicate_of"] for d in report.duplicates] == ["images/cage1/img0000.png", "images/cage1/img0001.png"]
    assert [w["message"] for w in report.warnings if "labelled differently" in w["message"]] == [
        "labelled differently from images/cage1/img0001.png (image id 2), which the dataset holds: its labels "
        "were not updated (an append never changes existing records)"]
    assert "mapped by name" in report.keypoints_source
    old_records_kept(out, before)
    assert (out / "images/cage1/img0002.png").read_bytes() == before["files"]["images/cage1/img0002.png"]
    added = all_images(out)[3:]
    assert sorted(r["file_name"] for r in added) == ["cage1/img0002-2.png", "cage1/img0003.png"]
    assert coco(out, "val")["categories"] == coco(out, "train")["categories"]  # val.json now written
    for record in added:
        i = 2 if "-2" in record["file_name"] else 3
        ann = next(a for s in ("train", "val") for a in coco(out, s)["annotations"] if a["image_id"] == record["id"])
        assert np.allclose(np.array(ann["keypoints"]).reshape(-1, 3)[:, :2], points(i), atol=0.01)  # by name
    no_errors(out)


def test_images_none_names_stay_relative_to_the_project(tmp_path):
    project, out = dlc_project(tmp_path / "proj", 2), tmp_path / "data"
    convert_sleapio("dlc", project / "labeled-data" / "cage1" / "CollectedData_me.csv", out, images="none",
                    val_ratio=0)
    dlc_project(project, 3)
    report = append_sleapio("dlc", project, out)
    assert report.images_mode == "none" and len(report.duplicates) == 2
    assert [r["file_name"] for r in all_images(out)] == [f"labeled-data/cage1/img{i:04d}.png" for i in range(3)]
    assert not (out / "images").exists()
    with pytest.raises(MmpxError, match="--images copy, but the dataset .* was converted with --images none"):
        append_sleapio("dlc", project, out, images="copy")


# --- SLEAP: embedded frames, image files ---------------------------------------------------------


def test_slp_embedded_frames_are_recognised_by_their_png_bytes(tmp_path):
    slp, out = slp_file(tmp_path / "src" / "a.slp", 3, embed=True), tmp_path / "data"
    convert_sleapio("sleap", slp, out, val_ratio=0)
    before = snapshot(out)
    slp_file(slp, 5, embed=True)  # saved again with two more frames: every frame re-embedded
    # the PNG written for a decoded frame is the same bytes whichever file the frame came from
    lf = sio.load_slp(str(slp)).labeled_frames[0]
    png = cv2.imencode(".png", lf.image[:, :, ::-1])[1].tobytes()
    assert hashlib.sha1(png).digest() == hashlib.sha1((out / "images/frames/000000.png").read_bytes()).digest()

    report = append_sleapio("sleap", slp, out, val_ratio=0)

    assert report.files_converted == 2 and len(report.duplicates) == 3 and not report.warnings
    assert [r["file_name"] for r in all_images(out)] == [f"frames/{i:06d}.png" for i in range(5)]
    old_records_kept(out, before)
    assert np.array_equal(cv2.imread(str(out / "images/frames/000004.png")), pixels(4))  # the frame, losslessly
    assert append_sleapio("sleap", slp, out).files_converted == 0  # all duplicates now
    no_errors(out)


def test_slp_image_files_and_labelme_dataset_with_the_same_keypoints(tmp_path):
    slp, out = slp_file(tmp_path / "src" / "b.slp", 2, embed=False), tmp_path / "data"
    convert_sleapio("sleap", slp, out, images="link", val_ratio=0)
    slp_file(slp, 3, embed=False)
    report = append_sleapio("sleap", slp, out)
    assert report.images_mode == "link" and report.files_converted == 1 and len(report.duplicates) == 2
    assert [r["file_name"] for r in all_images(out)] == [f"frames/img{i:04d}.png" for i in range(3)]
    # a labelme dataset with the same keypoint names takes the frames of an .slp (and says who added them)
    labelme, lm_out = tmp_path / "lm", tmp_path / "lm_out"
    write_lm(labelme, "a.json", [rect(0, 0, 60, 40), *(shape(n, points=[(5 + i, 5 + i)]) for i, n in
                                                       enumerate(NAMES))], width=SIZE[1], height=SIZE[0])
    cv2.imwrite(str(labelme / "a.png"), np.full((*SIZE, 3), 7, np.uint8))
    convert_labelme(labelme, lm_out, keypoints=",".join(NAMES), val_ratio=0)
    before = snapshot(lm_out)
    report = append_sleapio("sleap", slp, lm_out)
    assert report.files_converted == 3 and report.first_ids["image"] == 2
    old_records_kept(lm_out, before)
    saved = json.loads((lm_out / "report.json").read_text())
    assert saved["converter"] == "labelme" and saved["appends"][0]["converter"] == "sleap"
    no_errors(lm_out)
    # and the other way: labelme files added to the dataset the .slp made
    assert append_labelme(labelme, out).files_converted == 1
    assert all_images(out)[-1]["file_name"] == "a.png" and len(all_images(out)) == 4
    no_errors(out)


# --- Label Studio --------------------------------------------------------------------------------


def test_labelstudio_export_grows(tmp_path):
    folder = tmp_path / "ls"
    paths = write_images(folder / "images", 4)
    sio.save_labelstudio(labels_on(sio.Video.from_filename(paths[:2]), 2), str(folder / "tasks.json"))
    out = tmp_path / "data"
    convert_sleapio("labelstudio", folder / "tasks.json", out, val_ratio=0)
    before = snapshot(out)
    sio.save_labelstudio(labels_on(sio.Video.from_filename(paths), 4), str(folder / "tasks.json"))
    report = append_sleapio("labelstudio", folder / "tasks.json", out, val_ratio=0)
    assert report.files_converted == 2 and len(report.duplicates) == 2 and not report.warnings
    assert [r["id"] for r in all_images(out)] == [1, 2, 3, 4]
    old_records_kept(out, before)
    no_errors(out)


def test_nwb_written_again_with_more_frames(tmp_path):
    """sleap-io writes the frames of an NWB export as one video: written again, the old frames decode the same."""
    paths = write_images(tmp_path / "frames", 3)
    nwb, out = tmp_path / "pose.nwb", tmp_path / "data"
    sio.save_nwb(labels_on(sio.Video.from_filename(paths[:2]), 2), str(nwb), nwb_format="annotations_export")
    convert_sleapio("nwb", nwb, out, val_ratio=0)
    before = snapshot(out)
    for written in (nwb, *tmp_path.glob("*.avi")):
        written.unlink()
    sio.save_nwb(labels_on(sio.Video.from_filename(paths), 3), str(nwb), nwb_format="annotations_export")
    report = append_sleapio("nwb", nwb, out, val_ratio=0)
    assert report.files_converted == 1 and len(report.duplicates) == 2 and not report.warnings
    old_records_kept(out, before)
    no_errors(out)


# --- refusals, a failed append -------------------------------------------------------------------


def test_refusals_leave_out_as_it_was(tmp_path):
    project, out = dlc_project(tmp_path / "proj", 2), tmp_path / "data"
    convert_sleapio("dlc", project, out, val_ratio=0)
    before = snapshot(out)
    other = dlc_project(tmp_path / "other", 3, names=["nose", "tail", "paw"])
    with pytest.raises(MmpxError, match=r"has the keypoint\(s\) paw, which the dataset in .* does not have \(it "
                       r"has nose, left_ear, right_ear, tail\)") as err:
        append_sleapio("dlc", other, out)
    assert "without --append" in err.value.hint
    with pytest.raises(MmpxError, match="does not exist: there is no dataset to append to") as err:
        append_sleapio("dlc", project, tmp_path / "nowhere")
    assert "mmpx convert dlc SRC OUT" in err.value.hint and not (tmp_path / "nowhere").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(MmpxError, match="is not a dataset written by mmpx convert dlc"):
        append_sleapio("dlc", project, foreign)
    yolo = tmp_path / "yolo"
    yolo.mkdir()
    (yolo / "report.json").write_text(json.dumps(dict(converter="yolo", out=str(yolo))))
    with pytest.raises(MmpxError, match="written by mmpx convert yolo; --append adds only to a dataset written "
                       "by mmpx convert labelme, dlc, sleap, labelstudio, nwb"):
        append_sleapio("dlc", project, yolo)
    with pytest.raises(MmpxError, match="--category 'rat', but the dataset"):
        append_sleapio("dlc", project, out, category="rat")
    assert snapshot(out)["files"] == before["files"]
    assert snapshot(out)["beside"] == ["data", "foreign", "other", "proj", "yolo"]  # no staging folder left
    assert snapshot(foreign)["files"] == {"notes.txt": b"mine"}


def test_strict_bad_frame_leaves_out_as_it_was_else_it_is_skipped(tmp_path):
    project, out = dlc_project(tmp_path / "proj", 2), tmp_path / "data"
    convert_sleapio("dlc", project, out, val_ratio=0)
    before = snapshot(out)
    dlc_project(project, 4)
    (project / "labeled-data/cage1/img0002.png").write_bytes(b"not an image")
    with pytest.raises(MmpxError, match=r"img0002\.png: cannot read the image"):
        append_sleapio("dlc", project, out, strict=True)
    assert snapshot(out) == before
    report = append_sleapio("dlc", project, out)
    assert report.files_converted == 1 and [Path(s["file"]).name for s in report.skipped] == ["img0002.png"]
    assert [r["file_name"] for r in all_images(out)][-1] == "cage1/img0003.png"


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_dlc_append(tmp_path):
    project, out = dlc_project(tmp_path / "proj", 2), tmp_path / "data"
    assert run_cli("convert", "dlc", project, out, "--val-ratio", "0").exit_code == 0
    dlc_project(project, 3)
    result = run_cli("convert", "dlc", project, out, "--append", "--json")
    assert result.exit_code == 0, result.stderr
    shown = result.json()
    assert shown["files_converted"] == 1 and len(shown["duplicates"]) == 2 and shown["converter"] == "dlc"
    result = run_cli("convert", "dlc", project, out, "--append", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "mmpx convert dlc --append" in result.stdout and "nothing was added" in result.stdout
    result = run_cli("convert", "dlc", project, out, "--append", "--overwrite")
    assert result.exit_code == 1 and "--append and --overwrite together" in result.stderr
    result = run_cli("convert", "sleap", tmp_path / "none.slp", out, "--append")
    assert result.exit_code == 1 and "no such file" in result.stderr


def test_a_file_naming_some_of_the_keypoints_is_appended_with_the_others_unlabelled(tmp_path):
    """Label Studio names only the keypoints labelled in the file, so a new batch may name fewer."""
    project, out = dlc_project(tmp_path / "proj", 2), tmp_path / "data"
    convert_sleapio("dlc", project, out, val_ratio=0)
    fewer = dlc_project(tmp_path / "fewer", 3, names=["tail", "nose"])
    report = append_sleapio("dlc", fewer, out, val_ratio=0)
    assert "left_ear, right_ear not in" in report.keypoints_source
    data = json.loads((out / "annotations/train.json").read_text())
    assert data["categories"][0]["keypoints"] == ["nose", "left_ear", "right_ear", "tail"]
    new = [a for a in data["annotations"] if a["image_id"] > 2]
    assert new and all(a["keypoints"][5::3][:2] == [0, 0] and a["num_keypoints"] <= 2 for a in new)
